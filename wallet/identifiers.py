"""Kazakhstan's 12-digit individual (IIN) and business (BIN) identification numbers.

Both end in a check digit computed the same way: weights 1..11 over the first eleven digits, modulo 11;
when that gives 10, weights 3..11,1,2; a second 10 makes the number invalid.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from wallet.messages import N_, T_

_DIGITS12 = re.compile(r"^[0-9]{12}\Z")  # \Z: "$" would let a trailing line feed through
_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# The IIN's seventh digit tells the century of birth (and sex: odd male, even female).
_CENTURY_BY_DIGIT = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


class IdentifierError(ValueError):
    """An IIN or BIN that is not well formed; the message says why."""


def check_digit(first_eleven: str) -> int | None:
    """The check digit for eleven digits, or None when no digit can be valid."""
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


# One sentence each for an IIN and a BIN (the abbreviations differ by language: ИИН/БИН, ЖСН/БСН).
_NOT_12_DIGITS = {"IIN": N_("IIN must be exactly 12 digits"), "BIN": N_("BIN must be exactly 12 digits")}
_BAD_CHECK_DIGIT = {"IIN": N_("IIN check digit does not match"), "BIN": N_("BIN check digit does not match")}


def _check_shape(value: object, kind: str) -> str:
    if not isinstance(value, str) or not _DIGITS12.match(value):
        raise IdentifierError(T_(_NOT_12_DIGITS[kind]))
    expected = check_digit(value[:11])
    if expected is None or expected != int(value[11]):
        raise IdentifierError(T_(_BAD_CHECK_DIGIT[kind]))
    return value


def iin_birth_date(iin: str) -> dt.date:
    """The birth date an IIN encodes (YYMMDD plus the century digit)."""
    century = _CENTURY_BY_DIGIT.get(int(iin[6]))
    if century is None:
        raise IdentifierError(T_("IIN century digit must be 1-6"))
    try:
        return dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError as exc:
        raise IdentifierError(T_("IIN date part is not a real date")) from exc


def validate_iin(value: object) -> str:
    """Return the IIN unchanged when it is valid, else raise IdentifierError."""
    iin = _check_shape(value, "IIN")
    iin_birth_date(iin)
    return iin


def validate_bin(value: object) -> str:
    """Return the BIN unchanged when it is valid, else raise IdentifierError.

    A BIN starts with the registration year and month (YYMM); its fifth digit is the kind of
    organisation (4 resident legal entity, 5 foreign, 6 branch); the rest is a serial and the check digit.
    """
    bin_ = _check_shape(value, "BIN")
    if not 1 <= int(bin_[2:4]) <= 12:
        raise IdentifierError(T_("BIN month part must be 01-12"))
    if bin_[4] not in "456":
        raise IdentifierError(T_("BIN fifth digit must be 4, 5 or 6"))
    return bin_


def is_valid_iin(value: object) -> bool:
    try:
        validate_iin(value)
    except IdentifierError:
        return False
    return True


def mask_iin(iin: str) -> str:
    """Show the birth-date prefix and the last two digits only, e.g. 140301******21 -> 1403******21."""
    return f"{iin[:4]}{'*' * 6}{iin[-2:]}"


def make_iin(birth: dt.date, female: bool, serial: int) -> str | None:
    """Build the IIN for a birth date, sex and 4-digit serial; None when no check digit exists."""
    if not 1800 <= birth.year <= 2099:
        raise IdentifierError(T_("IIN birth year must be 1800-2099"))
    century_digit = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + int(female)
    first = f"{birth:%y%m%d}{century_digit}{serial:04d}"
    digit = check_digit(first)
    return None if digit is None else f"{first}{digit}"


def make_bin(year: int, month: int, kind: int, serial: int) -> str | None:
    """Build a BIN from its registration month, organisation kind and 6-digit serial."""
    first = f"{year % 100:02d}{month:02d}{kind}{serial:06d}"
    digit = check_digit(first)
    return None if digit is None else f"{first}{digit}"


# --- references that look like an IIN ------------------------------------------------------------------
#
# A terminal's `studentId` is an opaque roster id (a UUID). A person who types a child's IIN there instead
# must not get it into the hashed ledger, and what is already stored must not reach readers verbatim. The
# class refused and masked: 12 or more digits in a row once separators (spaces, dashes, dots, slashes, any
# punctuation or symbol) are skipped, in any script's digits (fullwidth, Arabic-Indic, ...), whether the
# check digit matches or not (a mistyped IIN is still a person's number). A letter ends a run. A UUID in its
# canonical 8-4-4-4-12 form is a roster id and never matches: its last group may be twelve decimal digits
# by chance, and refusing it would refuse a real child.

IIN_RUN = 12
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_separator(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZC"


def iin_like_runs(text: str) -> list[list[int]]:
    """The positions of the digits of every IIN-shaped run in `text` (none for a canonical UUID)."""
    if _CANONICAL_UUID.fullmatch(text):
        return []
    runs: list[list[int]] = []
    current: list[int] = []
    for position, char in enumerate(text):
        if unicodedata.decimal(char, None) is not None:
            current.append(position)
        elif not _is_separator(char):
            runs.append(current)
            current = []
    runs.append(current)
    return [run for run in runs if len(run) >= IIN_RUN]


def looks_like_iin(text: str) -> bool:
    """True when `text` holds an IIN-shaped run of digits (see above)."""
    return bool(iin_like_runs(text))


def mask_iin_like(text: str) -> str:
    """`text` with the digits of every IIN-shaped run masked as mask_iin does (the first four and the last
    two kept); anything else unchanged."""
    runs = iin_like_runs(text)
    if not runs:
        return text
    chars = list(text)
    for run in runs:
        for position in run[4:-2]:
            chars[position] = "*"
    return "".join(chars)
