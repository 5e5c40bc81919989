"""No token and no full IIN in any log line: what tests/conftest.py checks after every test of the suite.

Records are scanned as the code wrote them (message, arguments, extra values, traceback), before
wallet/logs.py's redaction: that redaction is a last line of defence, and the code must not lean on it. The
log files of real gunicorn servers (tests/live_server.py) are scanned as written, after it.

A full IIN is a run of exactly twelve digits that passes the IIN validator (wallet.identifiers), so that other
twelve-digit numbers (amounts in tiyn, clock readings) do not trip the check; a token is a bearer credential
or text shaped like a JWT.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

from wallet.identifiers import is_valid_iin

_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
# A request id is a UUID whose last group is twelve digits once in a few hundred; like wallet.identifiers,
# the scan takes no canonical UUID for an IIN.
_UUID = re.compile(r"(?<![0-9A-Fa-f-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                   r"(?![0-9A-Fa-f-])")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{8,}")
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def leaks_in(text: str) -> list[str]:
    """What in `text` is a token or a full IIN (each shortened, so that the report itself leaks nothing)."""
    found = [f"IIN {m[:4]}…" for m in _TWELVE_DIGITS.findall(_UUID.sub("uuid", text)) if is_valid_iin(m)]
    found += [f"JWT {m[:8]}…" for m in _JWT.findall(text)]
    found += [f"bearer token {m[:10]}…" for m in _BEARER.findall(text)]
    return found


def record_text(record: logging.LogRecord) -> str:
    """Everything a record would put into a log line, before any redaction."""
    try:
        parts = [record.getMessage()]
    except (TypeError, ValueError):
        parts = [str(record.msg), repr(record.args)]
    parts += [f"{key}={value!r}" for key, value in vars(record).items() if key not in _STANDARD]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class Recorder(logging.Handler):
    """Keeps every record of the test (on the root logger, at INFO and above)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def leaks(self) -> list[str]:
        return [f"{r.name}: {leak}" for r in self.records for leak in leaks_in(record_text(r))]


def leaks_in_lines(lines: Iterable[str], where: str) -> list[str]:
    return [f"{where} line {n}: {leak}" for n, line in enumerate(lines, 1) for leak in leaks_in(line)]
