"""The scan's reads: the month's meal entries of the scope's schools (voided meals left out), the attendance
marks, the calendar's non-serving days with the time each was notified, the enrollments."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from wallet.evidence.scan_rules import MealRow
from wallet.models import AttendanceMark, CalendarDay, CalendarNotice, Enrollment, LedgerEntry, School


def meal_select(school_ids: list[int], month: str) -> Select[Any]:
    """The month's meal entries of the schools, voided ones left out (columns in MealRow's order, then the
    verdict)."""
    entry, void = LedgerEntry, aliased(LedgerEntry)
    voided = select(void.refers_to).where(void.kind == "void", void.refers_to.is_not(None),
                                          void.billing_month == month)
    return (
        select(entry.id, School.region_id, entry.school_id, entry.terminal_id, entry.device_seq, entry.student_id,
               entry.meal_type, entry.method, entry.served_at, entry.serving_day, entry.verdict)
        .join(School, School.id == entry.school_id)
        .where(entry.kind == "meal", entry.billing_month == month, entry.school_id.in_(school_ids),
               entry.id.not_in(voided))
    )


def meal_rows(session: Session, school_ids: list[int], month: str, *where: Any) -> list[MealRow]:
    """The meal entries (those matching `where` too, when given)."""
    query = meal_select(school_ids, month).where(*where)
    # Through the connection: Core rows, without the ORM's per-row loading (a month is millions of rows).
    return [MealRow(*row[:10], row[10] == "billable") for row in session.connection().execute(query)]


def absent_marks(session: Session, school_ids: list[int], first: dt.date, last: dt.date
                 ) -> set[tuple[uuid.UUID, dt.date]]:
    return set(session.execute(
        select(AttendanceMark.student_id, AttendanceMark.day).where(
            AttendanceMark.school_id.in_(school_ids), AttendanceMark.mark == "absent",
            AttendanceMark.day.between(first, last))))


def closed_days(session: Session, school_ids: list[int], first: dt.date, last: dt.date
                ) -> dict[tuple[int, dt.date], tuple[str, dt.datetime]]:
    """Days now holiday or closure, with the time the latest notice of that kind was recorded."""
    notices = (select(CalendarNotice.school_id, CalendarNotice.day, CalendarNotice.kind,
                      func.max(CalendarNotice.notified_at).label("at"))
               .group_by(CalendarNotice.school_id, CalendarNotice.day, CalendarNotice.kind).subquery())
    rows = session.execute(
        select(CalendarDay.school_id, CalendarDay.day, CalendarDay.kind, notices.c.at)
        .join(notices, (notices.c.school_id == CalendarDay.school_id) & (notices.c.day == CalendarDay.day)
              & (notices.c.kind == CalendarDay.kind))
        .where(CalendarDay.school_id.in_(school_ids), CalendarDay.kind != "serving",
               CalendarDay.day.between(first, last)))
    return {(school_id, day): (kind, at) for school_id, day, kind, at in rows}


def present_counts(session: Session, school_ids: list[int], days: set[tuple[int, dt.date]]
                   ) -> dict[tuple[int, dt.date], int]:
    """Pupils enrolled at the school that day, less those the journal marks absent."""
    if not days:
        return {}
    first, last = min(d for _, d in days), max(d for _, d in days)
    spans: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for school_id, a, b in session.execute(
        select(Enrollment.school_id, Enrollment.valid_from, Enrollment.valid_to).where(
            Enrollment.school_id.in_(school_ids), Enrollment.valid_from <= last,
            or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= first))):
        spans[school_id].append((a, b))
    absent: dict[tuple[int, dt.date], int] = defaultdict(int)
    for school_id, day, n in session.execute(
        select(AttendanceMark.school_id, AttendanceMark.day, func.count()).where(
            AttendanceMark.school_id.in_(school_ids), AttendanceMark.mark == "absent",
            AttendanceMark.day.between(first, last)).group_by(AttendanceMark.school_id, AttendanceMark.day)):
        absent[(school_id, day)] = n
    return {(s, d): sum(1 for a, b in spans[s] if a <= d and (b is None or d <= b)) - absent[(s, d)]
            for s, d in days}
