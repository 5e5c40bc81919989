"""The roster's next serving days, so a terminal can work offline for a week (docs/decisions.md, "A week
offline").

Each day is `build_roster` as it will stand on that day (enrolment, eligibility, calendar, menus), cut down to
what changes from day to day: the school's identity is the roster's own, and pupils carry their id and what
they may eat, not their names again. Any day-level key build_roster gives (serving hours now; serving windows
when they come, issue 16) is carried through per day unchanged: that is the place for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import CalendarDay, School
from wallet.roster import build_roster, local_today

WEEK_SERVING_DAYS = 7
# How far ahead the calendar is searched for those serving days (holidays between them included).
HORIZON_DAYS = 31
# What each day's pupils do not repeat from the roster's own list.
_PUPIL_KEYS_DROPPED = ("displayName", "className", "grade")
_DAY_KEYS_DROPPED = ("school", "students")


def serving_days(session: Session, school: School, first: dt.date, count: int = WEEK_SERVING_DAYS) -> list[dt.date]:
    """The next `count` serving days from `first` (itself included), within the horizon."""
    return list(session.scalars(
        select(CalendarDay.day).where(CalendarDay.school_id == school.id, CalendarDay.kind == "serving",
                                      CalendarDay.day >= first,
                                      CalendarDay.day <= first + dt.timedelta(days=HORIZON_DAYS))
        .order_by(CalendarDay.day).limit(count)
    ))


def build_week(session: Session, school: School, now: dt.datetime) -> dict[str, Any]:
    """`week` (one entry per serving day) and `calendar` (every day from today to the last of them)."""
    today = local_today(school, now)
    days = serving_days(session, school, today)
    last = days[-1] if days else today
    zone = ZoneInfo(school.timezone)
    week = []
    for day in days:
        noon = dt.datetime.combine(day, dt.time(12), zone)
        body = build_roster(session, school, noon)
        entry = {k: v for k, v in body.items() if k not in _DAY_KEYS_DROPPED}
        entry["students"] = [{k: v for k, v in p.items() if k not in _PUPIL_KEYS_DROPPED}
                             for p in body["students"]]
        week.append(entry)
    kinds = {day: kind for day, kind in session.execute(
        select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.school_id == school.id,
                                                        CalendarDay.day >= today, CalendarDay.day <= last))}
    calendar = [{"day": (today + dt.timedelta(days=n)).isoformat(), "kind": kinds.get(today + dt.timedelta(days=n))}
                for n in range((last - today).days + 1)]
    return {"week": week, "calendar": calendar, "weekThrough": last.isoformat()}
