"""Every `wallet` command's help text, found by walking the click tree, equals the golden file.

The golden file was written from the command line before it moved out of the domain into its own package
(tests/cli_golden.py says how to rewrite it after a deliberate change): same command names, options, help
texts and exit status.
"""

from __future__ import annotations

import re

from tests.cli_golden import HELP_FILE, help_transcript


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^(=== wallet .*)$", text, flags=re.MULTILINE)[1:]
    return {parts[i]: parts[i + 1] for i in range(0, len(parts), 2)}


def test_every_help_text_is_the_golden_one():
    golden = _sections(HELP_FILE.read_text(encoding="utf-8"))
    current = _sections(help_transcript())
    assert list(current) == list(golden), "the commands differ from the golden file's"
    for heading, text in golden.items():
        assert current[heading] == text, heading
