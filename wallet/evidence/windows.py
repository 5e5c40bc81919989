"""Serving windows: the local times a meal type may be served at a school, per shift. Pure: no database.

A school's own windows for a meal type replace the programme's defaults for that meal type (rows with no
school); a meal type with neither has no window. A meal is inside when its local time (the school's zone)
falls in any shift's window for its meal type: the terminal does not know which shift a pupil is in, and a
two-shift school serves both lines from one canteen. Start inclusive, end exclusive, minutes after midnight.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from wallet.messages import T_

OUTSIDE_SERVING_WINDOW = "outside_serving_window"
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z|^24:00\Z")

# Recommended defaults for the programme's rows (docs/import-formats.md).
RECOMMENDED_DEFAULTS = (
    ("breakfast", 1, "07:00", "10:30"), ("lunch", 1, "10:30", "15:30"), ("snack", 1, "13:00", "18:30"),
)


def parse_hhmm(text: str) -> int:
    """"HH:MM" (00:00-24:00) -> minutes after midnight; ValueError otherwise."""
    if not _HHMM.match(text):
        raise ValueError(T_("a local time HH:MM, 00:00 to 24:00"))
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Window:
    meal_type: str
    shift: int
    start_minute: int
    end_minute: int

    def holds(self, minute: int) -> bool:
        return self.start_minute <= minute < self.end_minute


def local_minute(served_at: dt.datetime, zone: ZoneInfo) -> int:
    local = served_at.astimezone(zone)
    return local.hour * 60 + local.minute


def windows_for(school_rows: Iterable[Window], default_rows: Iterable[Window], meal_type: str) -> list[Window]:
    own = [w for w in school_rows if w.meal_type == meal_type]
    return own or [w for w in default_rows if w.meal_type == meal_type]


def inside(windows: list[Window], served_at: dt.datetime, zone: ZoneInfo) -> bool:
    """True when no window applies or the local time falls in one of them."""
    if not windows:
        return True
    minute = local_minute(served_at, zone)
    return any(w.holds(minute) for w in windows)
