"""What the `wallet` commands print, and their exit status, on a freshly generated demo world.

Compared with tests/golden/cli_outputs.txt, written from the command line before it moved out of the domain
into its own package. Clock readings, hashes over entries (they carry their arrival time), random keys and
codes, durations, file sizes and paths are masked (tests/cli_golden.py); everything else must be equal,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re

from tests.cli_golden import OUTPUTS_FILE, outputs_transcript


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^(=== wallet .*)$", text, flags=re.MULTILINE)[1:]
    return {parts[i]: parts[i + 1] for i in range(0, len(parts), 2)}


def test_command_outputs_on_demo_data_are_the_golden_ones(database_url, tmp_path):
    golden = _sections(OUTPUTS_FILE.read_text(encoding="utf-8"))
    current = _sections(outputs_transcript(database_url, tmp_path))
    assert list(current) == list(golden)
    for heading, text in golden.items():
        assert current[heading] == text, heading
