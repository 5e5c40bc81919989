"""The one rule for text that comes from outside (request bodies, paths, queries, token claims, files).

Every string a client sends is at most some length and holds no control character (C0, DEL, C1:
Unicode category Cc) and no unpaired UTF-16 surrogate (category Cs, which JSON can escape as "\\ud800" but
which is no character). Fields that hold prose (a complaint, an answer, a comment) may hold tab, line feed
and carriage return; nothing else may. PostgreSQL refuses NUL in text, and a control character in a label
or a reason misleads whoever reads it later (a terminal, a console, a CSV cell): so neither is ever stored.

Text is stored as given, not normalised (NFC): what a parent or an operator wrote is kept as they wrote it,
and the fields that name objects (ids, BINs, regions, months) are ASCII patterns, where normalisation changes
nothing. openapi.yaml states the same rule as `pattern` and `maxLength` (SINGLE_LINE_PATTERN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE_BREAKS = "\t\n\r"
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_IN_PROSE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# The same rule for openapi.yaml (ECMA-262 and Python regular expressions alike): no C0, DEL or C1.
SINGLE_LINE_PATTERN = r"^[^\u0000-\u001F\u007F-\u009F]*$"
PROSE_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"

# A path or query parameter of no stated length is at most this long (ids, cursors, months, BINs are shorter).
MAX_PARAMETER_LENGTH = 200


@dataclass(frozen=True)
class TextProblem:
    code: str  # control_character, unpaired_surrogate, too_long, too_short
    message: str


def text_problem(value: str, *, max_length: int, min_length: int = 0, prose: bool = False) -> TextProblem | None:
    """What is wrong with this text under the rule, or None. `prose`: tab and line breaks are allowed."""
    found = (_FORBIDDEN_IN_PROSE if prose else _FORBIDDEN).search(value)
    if found is not None:
        char = found.group()
        if "\ud800" <= char <= "\udfff":
            return TextProblem("unpaired_surrogate", "an unpaired UTF-16 surrogate is not a character")
        allowed = " (tab and line breaks are)" if prose else ""
        return TextProblem("control_character", f"control characters (here U+{ord(char):04X}) are not allowed"
                                                f"{allowed}")
    if len(value) > max_length:
        return TextProblem("too_long", f"at most {max_length} characters")
    if len(value) < min_length:
        return TextProblem("too_short", "must not be empty" if min_length == 1 else f"at least {min_length} characters")
    return None


def is_clean(value: str, *, prose: bool = False) -> bool:
    """No control character (but tab and line breaks in prose) and no unpaired surrogate."""
    return (_FORBIDDEN_IN_PROSE if prose else _FORBIDDEN).search(value) is None
