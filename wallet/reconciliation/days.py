"""Days that look wrong against the calendar: meals on a day that is not a serving day, and serving days
that are over without a meal. Parts of the main statement, over `g` (wallet.reconciliation.lines)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, cast, func, or_, select
from sqlalchemy.sql import Select

from wallet.models import CalendarDay, School
from wallet.reconciliation.dialect import group_total
from wallet.reconciliation.parts import PartRow, part
from wallet.reconciliation.reading import MonthReading
from wallet.reconciliation.results import DayAnomaly

_SCHOOLS = School.__table__


def day_parts(reading: MonthReading, g: Any) -> list[Select[Any]]:
    """Meals on days the calendar does not serve, and serving days already over without a meal."""
    per_day = (
        select(g.c.school_id, g.c.day, group_total(g.c.attempts).label("attempts"),
               cast(group_total(g.c.meals) - group_total(g.c.voids), BigInteger).label("meals"))
        .group_by(g.c.school_id, g.c.day)
        .cte("per_day")
    )
    cal = CalendarDay.__table__
    off = (
        part("day_off", {"school_id": per_day.c.school_id, "day": per_day.c.day,
                         "day_kind": func.coalesce(cal.c.kind, "none")},
             {"attempts": per_day.c.attempts, "meals": per_day.c.meals})
        .select_from(per_day)
        .outerjoin(cal, and_(cal.c.school_id == per_day.c.school_id, cal.c.day == per_day.c.day))
        .where(or_(cal.c.kind.is_(None), cal.c.kind != "serving"), per_day.c.attempts > 0)
    )
    # Only days that are over in the school's zone can be found empty.
    over = [and_(_SCHOOLS.c.timezone == zone, cal.c.day < reading.now.astimezone(ZoneInfo(zone)).date())
            for zone in reading.zones]
    empty = (
        part("day_empty", {"school_id": cal.c.school_id, "day": cal.c.day, "day_kind": cal.c.kind},
             {"attempts": func.coalesce(per_day.c.attempts, 0), "meals": func.coalesce(per_day.c.meals, 0)})
        .select_from(cal)
        .join(_SCHOOLS, _SCHOOLS.c.id == cal.c.school_id)
        .outerjoin(per_day, and_(per_day.c.school_id == cal.c.school_id, per_day.c.day == cal.c.day))
        .where(reading.in_scope(cal.c.school_id), cal.c.kind == "serving", cal.c.day >= reading.month.first_day,
               cal.c.day <= reading.month.last_day, or_(*over), func.coalesce(per_day.c.meals, 0) <= 0)
    )
    return [off, empty]


def day_anomalies(off: list[PartRow], empty: list[PartRow]) -> list[DayAnomaly]:
    return [DayAnomaly(r.school_id, r.day, r.day_kind, "meals_on_non_serving_day", int(r.attempts), int(r.meals))
            for r in off] + [
        DayAnomaly(r.school_id, r.day, r.day_kind, "no_meals_on_serving_day", int(r.attempts), int(r.meals))
        for r in empty]

