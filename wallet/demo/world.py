"""The demo world as rows of the import files, kind by kind (wallet.demo.generator makes it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

Row = dict[str, str]


@dataclass
class DemoWorld:
    """The rows of every kind, and the dates they were made for."""

    seed: int
    today: dt.date
    school_year: int  # the year in which the school year begins (1 September)
    months: tuple[tuple[int, int], ...]  # (year, month) of the calendar and menus, oldest first
    tables: dict[str, list[Row]] = field(default_factory=dict)


def iso_day(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()
