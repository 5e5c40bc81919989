"""When the simulated canteen's meals happen, and what it remembers of the day across restarts.

Meals belong in the school's serving window, in the school's own time zone (the roster's), whatever zone or
hour the host is in. While a window is open the rush is live (meals stamped as they are recorded, QR codes
fetched by parents' apps just then); once it is over, the terminals upload the day's meals as terminals that
were offline over lunch do, stamped with times spread over the window, in order. Before a window opens
nothing can have been served in it yet: the meals are stamped live and the simulator says so.

`CanteenBook` keeps who had which meal today in a small JSON file beside the terminals' data, so a demo
restarted on the same day carries on with the pupils still waiting instead of serving everyone twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
from pathlib import Path
from zoneinfo import ZoneInfo

# Local serving windows of a one-shift school (the simulator's own: a terminal is not told them).
WINDOWS: dict[str, tuple[dt.time, dt.time]] = {
    "breakfast": (dt.time(8, 0), dt.time(9, 0)),
    "lunch": (dt.time(12, 0), dt.time(14, 0)),
    "snack": (dt.time(15, 30), dt.time(16, 30)),
}
LIVE, REPLAY, EARLY = "live", "replay", "early"


def window(meal_type: str, day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start, end = WINDOWS.get(meal_type, WINDOWS["lunch"])
    return dt.datetime.combine(day, start, zone), dt.datetime.combine(day, end, zone)


def mode(meal_type: str, now: dt.datetime, zone: ZoneInfo) -> str:
    """LIVE while today's window is open, REPLAY once it is over, EARLY before it opens."""
    start, end = window(meal_type, now.astimezone(zone).date(), zone)
    if now < start:
        return EARLY
    return LIVE if now < end else REPLAY


def meal_time(meal_type: str, now: dt.datetime, zone: ZoneInfo, fraction: float,
              rng: random.Random) -> dt.datetime | None:
    """The time of a meal served `fraction` (0..1) of the way through the rush: inside today's window when
    it is over (never after `now`), None (stamp it now) while it is open or still to come."""
    if mode(meal_type, now, zone) != REPLAY:
        return None
    start, end = window(meal_type, now.astimezone(zone).date(), zone)
    span = (end - start).total_seconds()
    offset = min(max(fraction, 0.0), 1.0) * span + rng.uniform(0, 20)
    return (start + dt.timedelta(seconds=min(offset, span - 1))).astimezone(dt.UTC)


def describe(meal_type: str, now: dt.datetime, zone: ZoneInfo) -> str:
    """A line for the person watching: which window, in the school's time, and what the simulator does."""
    start, end = window(meal_type, now.astimezone(zone).date(), zone)
    local = now.astimezone(zone)
    hours = f"{start:%H:%M}-{end:%H:%M}"
    how = mode(meal_type, now, zone)
    if how == LIVE:
        return f"it is {local:%H:%M} at the school ({zone.key}): the {meal_type} window {hours} is open, live"
    if how == REPLAY:
        return (f"it is {local:%H:%M} at the school ({zone.key}), after the {meal_type} window {hours}: the "
                f"terminals upload today's {meal_type} as if they were offline over it, stamped inside the "
                "window (card and roster only: parents' QR codes are fetched live)")
    return (f"it is {local:%H:%M} at the school ({zone.key}), before the {meal_type} window {hours}: meals "
            "are stamped with the time they are recorded")


class CanteenBook:
    """Who had which meal on one serving day, per school: {"day": D, "schools": {BIN: {meal: [ids]}}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.day: str | None = None
        self.schools: dict[str, dict[str, list[str]]] = {}
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError, AttributeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            self.day, self.schools = str(data["day"]), dict(data["schools"])

    def served(self, school_bin: str, day: str) -> dict[str, set[str]]:
        """What was served at the school on `day` by an earlier run (nothing when the book is of another day)."""
        if self.day != day:
            return {}
        return {meal: set(ids) for meal, ids in self.schools.get(school_bin, {}).items()}

    def save(self, day: str, school_bin: str, served: dict[str, set[str]]) -> None:
        if self.day != day:
            self.day, self.schools = day, {}
        self.schools[school_bin] = {meal: sorted(ids) for meal, ids in served.items()}
        temporary = self.path.with_suffix(".part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps({"day": self.day, "schools": self.schools}), encoding="utf-8")
        os.replace(temporary, self.path)
