"""The service's clock: what "now" is for the roster, the ingest and the terminals' tokens.

In production and development it is the system clock. Tests that run the service as a real process (gunicorn,
tests/live_server.py) over simulated days set `WALLET_TEST_CLOCK_FILE`, the path of a file holding one ISO 8601
instant: the clock then stands at that instant until the test writes another. It is honoured only with
`WALLET_ENV=test` (wallet.config refuses it elsewhere), and the terminal agent reads the same file under the
same rule (devices/identity.py), so both sides of a test see one time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

TEST_CLOCK_ENV = "WALLET_TEST_CLOCK_FILE"


def system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def read_clock_file(path: Path) -> dt.datetime:
    """The instant written in a test clock file (UTC when it names no offset)."""
    text = path.read_text(encoding="utf-8").strip()
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def now(test_clock_file: Path | None = None) -> dt.datetime:
    """The current instant: the test clock file's when one is configured, else the system clock's."""
    return read_clock_file(test_clock_file) if test_clock_file is not None else system_now()
