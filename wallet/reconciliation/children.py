"""The children with anomalies: billed twice for a meal of one day, repeated refused attempts, attempts
where not enrolled. One grouping per child and meal type over the month (from the entries, or for an open
month from `ledger_child_month_totals`, which holds it), the flagged children read by a statement of their
own with their IINs, and their anomalies made as the rows are read."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, String, and_, case, cast, func, or_, select
from sqlalchemy.sql import Select

from wallet.db import one_of
from wallet.identifiers import mask_iin
from wallet.models import LedgerChildMonthTotal, LedgerEntry, Student
from wallet.reconciliation.dialect import bit_or, day_bit, popcount, sum_where
from wallet.reconciliation.reading import MonthReading
from wallet.reconciliation.results import ChildAnomaly

_ENTRIES = LedgerEntry.__table__
_CHILD_TOTALS = LedgerChildMonthTotal.__table__
_CHILD_NUMERIC = ("net", "bits", "dup", "dup_days", "not_enrolled", "not_enrolled_days")


def child_groups(reading: MonthReading) -> Any:
    """The month's sums per school x child x meal type (a CTE `children`)."""
    # Per child: the days of its meals as bits, by meal type, kind, verdict and reasons. Net billable
    # meals of a type, and the sum of 2^(day-1) over them, have as many one-bits as meals exactly when
    # no day has two (adding a day's bit twice carries); refused attempts keep their days (bit or) and
    # count, and as many as bits means one a day. The derived totals hold these sums per child already.
    if not reading.from_entries:
        return _children_from_totals(reading)
    c = _per_child_from_entries(reading)
    c_billable = c.c.verdict == "billable"
    sign = case((c.c.kind == "meal", 1), else_=-1)
    dup = and_(c.c.kind == "meal", ~c_billable, c.c.reasons.like("%duplicate_meal%"))
    not_enrolled = and_(c.c.kind == "meal", ~c_billable, c.c.reasons.like("%not_enrolled%"))
    return (
        select(c.c.school_id, c.c.student_id, c.c.meal_type,
               sum_where(c_billable, sign * c.c.n).label("net"),
               sum_where(c_billable, sign * c.c.bits).label("bits"),
               sum_where(dup, c.c.n).label("dup"),
               bit_or(reading.dialect, case((dup, c.c.mask), else_=0)).label("dup_days"),
               sum_where(not_enrolled, c.c.n).label("not_enrolled"),
               bit_or(reading.dialect, case((not_enrolled, c.c.mask), else_=0)).label("not_enrolled_days"))
        .group_by(c.c.school_id, c.c.student_id, c.c.meal_type)
        .cte("children")
    )


def flagged_children(reading: MonthReading, children: Any) -> Select[Any]:
    """Children with something to look at: refused second meals or meals where not enrolled, or a day
    with two billable meals of one type (the bit test of child_groups)."""
    students = Student.__table__
    # On PostgreSQL the id comes as its text, which the anomalies show (no UUID made and printed per row).
    student_id = (cast(children.c.student_id, String) if reading.dialect == "postgresql"
                  else children.c.student_id)
    return (
        select(children.c.school_id, student_id.label("student_id"), children.c.meal_type,
               *(children.c[n] for n in _CHILD_NUMERIC), students.c.iin)
        .select_from(children)
        .outerjoin(students, students.c.id == children.c.student_id)
        .where(or_(children.c.dup > 0, children.c.not_enrolled > 0,
                   popcount(reading.dialect, children.c.bits) != children.c.net))
    )


def child_anomalies(reading: MonthReading, flagged: Iterable[Any]) -> list[ChildAnomaly]:
    """The anomalies of the children flagged_children reads. Their days come from their bit masks
    when each day has one; a child with a day of two (double billing, or two refused attempts) has its
    month's entries read again, day by day (few children, through the index on student and day).

    Tens of thousands of children can be flagged (every refused second meal): the loop reads each row
    once, as a tuple, and makes its anomalies without further lookups."""
    show_iin = reading.scope.show_iin
    shown_iin: dict[str, str | None] = {}  # by the id's text

    days = reading.month.days()
    found: list[ChildAnomaly] = []
    add = found.append
    again: set[uuid.UUID] = set()  # children whose entries must be read day by day
    for school_id, student_id, meal_type, net, bits, dup, dup_days, not_enrolled, not_enrolled_days, iin \
            in flagged:
        student = student_id if isinstance(student_id, str) else str(student_id)
        iin = None if iin is None else iin if show_iin else mask_iin(iin)
        shown_iin[student] = iin
        dup_days, not_enrolled_days = dup_days or 0, not_enrolled_days or 0
        bits = bits or 0
        if ((bits.bit_count() if bits >= 0 else -1) != net or dup_days.bit_count() != dup
                or not_enrolled_days.bit_count() != not_enrolled):
            again.add(student_id if isinstance(student_id, uuid.UUID) else uuid.UUID(student))
            continue
        for mask, anomaly in ((dup_days, "repeated_meal_attempts"), (not_enrolled_days, "not_enrolled_attempts")):
            while mask:
                low = mask & -mask
                add(ChildAnomaly(school_id, student, iin, days[low.bit_length() - 1], meal_type, anomaly, 1))
                mask ^= low
    if again:
        e, frozen = _ENTRIES, reading.frozen()
        billable = e.c.verdict == "billable"
        net = sum_where(billable, case((e.c.kind == "meal", 1), else_=-1))
        dup = sum_where(and_(e.c.kind == "meal", ~billable, e.c.reasons.like("%duplicate_meal%")))
        not_enrolled = sum_where(and_(e.c.kind == "meal", ~billable, e.c.reasons.like("%not_enrolled%")))
        rows = reading.session.execute(
            select(e.c.school_id, e.c.student_id, e.c.serving_day, e.c.meal_type, net.label("net"),
                   dup.label("dup"), not_enrolled.label("not_enrolled"))
            .outerjoin(frozen, frozen.c.school_id == e.c.school_id)
            .where(*reading.month_entries(), one_of(reading.session, e.c.student_id, again),
                   or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size))
            .group_by(e.c.school_id, e.c.student_id, e.c.serving_day, e.c.meal_type)
            .having(or_(net > 1, dup > 0, not_enrolled > 0))
        )
        for r in rows:
            student = str(r.student_id)
            for anomaly, count in (("billed_twice", r.net if r.net > 1 else 0),
                                   ("repeated_meal_attempts", r.dup), ("not_enrolled_attempts", r.not_enrolled)):
                if count:
                    found.append(ChildAnomaly(r.school_id, student, shown_iin.get(student), r.serving_day,
                                              r.meal_type, anomaly, int(count)))
    return found


def _per_child_from_entries(reading: MonthReading) -> Any:
    e, frozen = _ENTRIES, reading.frozen()
    bit = day_bit(reading.dialect, e.c.serving_day, reading.month.first_day)
    return reading.entry_rows([
        e.c.school_id, e.c.student_id, e.c.meal_type, e.c.kind, e.c.verdict, e.c.reasons,
        cast(func.count(), BigInteger).label("n"),
        cast(func.sum(bit), BigInteger).label("bits"),
        bit_or(reading.dialect, bit).label("mask"),
    ], frozen).where(e.c.student_id.is_not(None)).group_by(
        e.c.school_id, e.c.student_id, e.c.meal_type, e.c.kind, e.c.verdict, e.c.reasons).subquery("per_child")


def _children_from_totals(reading: MonthReading) -> Any:
    """The per-child sums, as child_groups makes them from the entries, read from `ledger_child_month_totals`,
    which holds them per child, month and meal type."""
    t = _CHILD_TOTALS
    return (
        select(t.c.school_id, t.c.student_id, t.c.meal_type, *(t.c[n] for n in _CHILD_NUMERIC))
        .where(reading.in_scope(t.c.school_id), t.c.month == str(reading.month))
        .cte("children")
    )
