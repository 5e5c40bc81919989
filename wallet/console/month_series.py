"""A month's figures per serving day for a scope, for the auditor's chart: net meals against the ceiling.

The ceiling of a day is the number of (child, meal type) pairs the contracts price for the children enrolled
and eligible that day at schools whose calendar makes it a serving day; summed over the month it is the
reconciliation's ceiling (eligible children x serving days) up to the category chosen when a child holds
several. Reads the session's current snapshot; the reconciliation's totals stay the reference figures.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wallet.models import CalendarDay, Contract, ContractPrice, Enrollment, LedgerEntry, StudentEligibility
from wallet.months import Month
from wallet.reconciliation.scope import Scope


@dataclass(frozen=True)
class DayFigure:
    day: dt.date
    meals: int  # billable meals less voids, by serving day
    refused: int
    ceiling: int
    serving: bool


def daily_figures(session: Session, scope: Scope, month: Month, school_ids: list[int] | None = None) -> list[DayFigure]:
    ids = school_ids if school_ids is not None else scope.school_ids
    first, last = month.first_day, month.last_day
    meals: dict[dt.date, int] = defaultdict(int)
    refused: dict[dt.date, int] = defaultdict(int)
    entries = (
        select(LedgerEntry.serving_day, LedgerEntry.kind, LedgerEntry.verdict, func.count())
        .where(LedgerEntry.school_id.in_(ids or [-1]), LedgerEntry.serving_day >= first,
               LedgerEntry.serving_day <= last)
        .group_by(LedgerEntry.serving_day, LedgerEntry.kind, LedgerEntry.verdict)
    )
    if scope.supplier_id is not None:
        entries = entries.where(LedgerEntry.contract_id.in_(
            select(Contract.id).where(Contract.supplier_id == scope.supplier_id)))
    for day, kind, verdict, n in session.execute(entries):
        if kind == "void":
            meals[day] -= n
        elif kind == "meal" and verdict == "billable":
            meals[day] += n
        elif kind == "meal":
            refused[day] += n
    ceiling = _ceilings(session, ids, first, last, scope.supplier_id)
    serving = set(session.scalars(
        select(CalendarDay.day).where(CalendarDay.school_id.in_(ids or [-1]), CalendarDay.kind == "serving",
                                      CalendarDay.day >= first, CalendarDay.day <= last).distinct()))
    return [DayFigure(day, meals.get(day, 0), refused.get(day, 0), ceiling.get(day, 0), day in serving)
            for day in month.days()]


def _ceilings(session: Session, ids: list[int], first: dt.date, last: dt.date,
              supplier_id: int | None) -> dict[dt.date, int]:
    day = CalendarDay.day
    pairs = (
        select(day.label("day"), Enrollment.student_id, ContractPrice.meal_type)
        .join(Enrollment, and_(Enrollment.school_id == CalendarDay.school_id, Enrollment.valid_from <= day,
                               or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= day)))
        .join(StudentEligibility, and_(StudentEligibility.student_id == Enrollment.student_id,
                                       StudentEligibility.valid_from <= day, StudentEligibility.valid_to >= day))
        .join(Contract, and_(Contract.school_id == CalendarDay.school_id, Contract.valid_from <= day,
                             Contract.valid_to >= day))
        .join(ContractPrice, and_(ContractPrice.contract_id == Contract.id,
                                  ContractPrice.category_code == StudentEligibility.category_code))
        .where(CalendarDay.school_id.in_(ids or [-1]), CalendarDay.kind == "serving", day >= first, day <= last)
        .distinct()
    )
    if supplier_id is not None:
        pairs = pairs.where(Contract.supplier_id == supplier_id)
    sub = pairs.subquery()
    return {d: n for d, n in session.execute(select(sub.c.day, func.count()).group_by(sub.c.day))}
