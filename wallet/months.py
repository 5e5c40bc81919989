"""Billing months ('YYYY-MM') and their boundaries in a school's time zone."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits: \d also matches other scripts
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=n) for n in range(self.last_day.day)]

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def starts_at(self, zone: str) -> dt.datetime:
        """The first instant of the month in `zone`, in UTC."""
        return dt.datetime.combine(self.first_day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)

    def ends_at(self, zone: str) -> dt.datetime:
        """The first instant after the month in `zone`, in UTC."""
        return self.next().starts_at(zone)

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)


def parse_month(value: object, field: str = "month") -> Month:
    """A 'YYYY-MM' month; InvalidInput (code invalid_month) for anything else."""
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or not EARLIEST_YEAR <= int(match.group(1)) <= LATEST_YEAR:
        raise InvalidInput("invalid_month", T_("%(value)r is not a month of the form YYYY-MM", value=value),
                           [FieldError(field, T_("a month YYYY-MM between %(EARLIEST_YEAR)s and %(LATEST_YEAR)s",
                                                 EARLIEST_YEAR=EARLIEST_YEAR, LATEST_YEAR=LATEST_YEAR))])
    return Month(int(match.group(1)), int(match.group(2)))


def reportable_month(value: object, now: dt.datetime | None = None, field: str = "month") -> Month:
    """A month that has begun somewhere (reports on a month that has not started are refused)."""
    month = parse_month(value, field)
    latest = ((now or dt.datetime.now(dt.UTC)) + dt.timedelta(hours=14)).date()  # the earliest zone on Earth
    if month.first_day > latest:
        raise InvalidInput("month_in_future", T_("%(month)s has not begun yet", month=month),
                           [FieldError(field, T_("a month that has begun"))])
    return month
