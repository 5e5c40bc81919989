"""Reading the console's query and path parameters: anything malformed is a friendly 400 page, never a 500."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

from wallet.errors import FieldError, InvalidInput, NotFound
from wallet.messages import T_
from wallet.months import Month, reportable_month
from wallet.parents.children import DEFAULT_ZONE

_BIN = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


def local_today(zone: str = DEFAULT_ZONE) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def month(raw: str | None) -> Month:
    if not raw:
        return Month.of(local_today())
    return reportable_month(raw[:16], field="month")


def day(raw: str | None, default: dt.date) -> dt.date:
    if not raw:
        return default
    try:
        value = dt.date.fromisoformat(raw[:10]) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None or abs((value - default).days) > 3660:
        raise InvalidInput("validation_failed", T_("%(value)r is not a date (YYYY-MM-DD)", value=raw[:20]),
                           [FieldError("day", T_("a date YYYY-MM-DD"))])
    return value


def school_bin(raw: str) -> str:
    if not _BIN.fullmatch(raw):
        raise NotFound("school_not_found", T_("no such school in your scope"))
    return raw


def optional_bin(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _BIN.fullmatch(raw):
        raise InvalidInput("validation_failed", T_("a school is named by its 12-digit BIN"),
                           [FieldError("school", T_("a 12-digit BIN"))])
    return raw


def optional_region(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _REGION.fullmatch(raw):
        raise InvalidInput("validation_failed", T_("a region is named by its code"),
                           [FieldError("region", T_("a region code such as KZ-71"))])
    return raw


def entry_id(raw: str) -> int:
    """A ledger entry's id in a path: digits that fit a database integer, else the page does not exist."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise NotFound("entry_not_found", T_("no such entry in your scope"))
    return int(raw)


def child_id(raw: str | None) -> uuid.UUID | None:
    if not raw or len(raw) > 45:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
