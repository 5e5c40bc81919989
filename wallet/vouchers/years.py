"""School years: "2026-2027" runs from 1 September 2026 to 31 May 2027 (the last month billed in full)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_

# Kazakhstan has one time zone since March 2024; schools' own zones matter for serving days, not for jobs.
ZONE = "Asia/Almaty"
_YEAR = re.compile(r"^([0-9]{4})-([0-9]{4})\Z")
START_MONTH, END_MONTH, END_DAY = 9, 5, 31


def parse_school_year(text: str, field: str = "school_year") -> tuple[dt.date, dt.date]:
    """First and last day of a school year written "YYYY-YYYY" (consecutive years); InvalidInput otherwise."""
    match = _YEAR.match(text or "")
    if not match or int(match[2]) != int(match[1]) + 1 or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInput("validation_failed", T_("%(text)r is not a school year such as 2026-2027.", text=text),
                           [FieldError(field, T_("a school year such as 2026-2027"), "invalid_school_year")])
    first = int(match[1])
    return dt.date(first, START_MONTH, 1), dt.date(first + 1, END_MONTH, END_DAY)


def school_year_of(day: dt.date) -> str:
    """The school year a day belongs to; summer days (June to August) belong to the year about to start."""
    first = day.year if day.month > END_MONTH else day.year - 1
    return f"{first}-{first + 1}"


def today_in_kazakhstan(now: dt.datetime) -> dt.date:
    """The day it is in Kazakhstan at `now` (an aware time): the day the voucher jobs judge entitlement on."""
    return now.astimezone(ZoneInfo(ZONE)).date()
