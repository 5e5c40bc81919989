"""A school's serving day as its canteen sees it: meals recorded per meal type against the children entitled
to them, refused attempts by reason, and each terminal's last contact and sequence gaps."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wallet.models import (
    MEAL_TYPES,
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    LedgerEntry,
    School,
    StudentEligibility,
    Terminal,
)
from wallet.parents.menus import Dish, menus_for
from wallet.terminal_backlog import Backlog, backlog_of
from wallet.terminals import sequence_gaps

# A terminal that has not called for this long is shown offline (agents sync every few seconds when online).
ONLINE_WITHIN = dt.timedelta(minutes=10)
# Past this a terminal's backlog is flagged, unless the caller passes the configured threshold.
BACKLOG_ALERT = dt.timedelta(hours=24)


@dataclass(frozen=True)
class MealCount:
    meal_type: str
    served: int
    entitled: int


@dataclass(frozen=True)
class TerminalState:
    id: str
    label: str | None
    status: str
    last_contact_at: dt.datetime | None
    online: bool
    highest_seq: int
    gaps: tuple[tuple[int, int], ...]
    backlog: Backlog | None = None

    @property
    def missing(self) -> int:
        return sum(last - first + 1 for first, last in self.gaps)


@dataclass(frozen=True)
class SchoolDay:
    day: dt.date
    day_kind: str | None  # serving, holiday, closure; None when the calendar has no row
    meals: tuple[MealCount, ...]
    refused: dict[str, int]  # reason code -> attempts
    refused_attempts: int
    terminals: tuple[TerminalState, ...]
    allergen_warnings: int = 0  # meals served after the cook confirmed an allergen warning

    @property
    def served(self) -> int:
        return sum(m.served for m in self.meals)


def school_day(session: Session, school: School, day: dt.date, now: dt.datetime, *,
               backlog_alert: dt.timedelta = BACKLOG_ALERT) -> SchoolDay:
    served = _served(session, school.id, day)
    entitled = _entitled(session, school.id, day)
    refused: Counter[str] = Counter()
    attempts = 0
    for (reasons,) in session.execute(
        select(LedgerEntry.reasons).where(LedgerEntry.school_id == school.id, LedgerEntry.serving_day == day,
                                          LedgerEntry.kind == "meal", LedgerEntry.verdict != "billable")
    ):
        attempts += 1
        refused.update(r for r in reasons.split(",") if r)
    day_kind = session.scalar(select(CalendarDay.kind).where(CalendarDay.school_id == school.id,
                                                             CalendarDay.day == day))
    meals = tuple(MealCount(m, served.get(m, 0), entitled.get(m, 0)) for m in MEAL_TYPES)
    warned = session.scalar(select(func.count()).where(
        LedgerEntry.school_id == school.id, LedgerEntry.serving_day == day, LedgerEntry.kind == "meal",
        LedgerEntry.allergen_warning.is_not(None)))
    return SchoolDay(day=day, day_kind=day_kind, meals=meals, refused=dict(refused.most_common()),
                     refused_attempts=attempts,
                     terminals=tuple(terminal_states(session, school.id, now, backlog_alert)),
                     allergen_warnings=int(warned or 0))


def _served(session: Session, school_id: int, day: dt.date) -> dict[str, int]:
    """Billable meals per meal type, less the voids of them (a void is an entry of its own)."""
    rows = session.execute(
        select(LedgerEntry.meal_type, LedgerEntry.kind, func.count())
        .where(LedgerEntry.school_id == school_id, LedgerEntry.serving_day == day,
               or_(and_(LedgerEntry.kind == "meal", LedgerEntry.verdict == "billable"), LedgerEntry.kind == "void"))
        .group_by(LedgerEntry.meal_type, LedgerEntry.kind)
    )
    counts: Counter[str] = Counter()
    for meal_type, kind, n in rows:
        counts[meal_type] += n if kind == "meal" else -n
    return dict(counts)


def _entitled(session: Session, school_id: int, day: dt.date) -> dict[str, int]:
    """Children enrolled here that day whose eligibility the school's contract prices, per meal type."""
    pairs = (
        select(Enrollment.student_id, ContractPrice.meal_type)
        .join(StudentEligibility, and_(StudentEligibility.student_id == Enrollment.student_id,
                                       StudentEligibility.valid_from <= day, StudentEligibility.valid_to >= day))
        .join(Contract, and_(Contract.school_id == Enrollment.school_id, Contract.valid_from <= day,
                             Contract.valid_to >= day))
        .join(ContractPrice, and_(ContractPrice.contract_id == Contract.id,
                                  ContractPrice.category_code == StudentEligibility.category_code))
        .where(Enrollment.school_id == school_id, Enrollment.valid_from <= day,
               or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= day))
        .distinct()
        .subquery()
    )
    return {m: n for m, n in session.execute(select(pairs.c.meal_type, func.count()).group_by(pairs.c.meal_type))}


def terminal_states(session: Session, school_id: int, now: dt.datetime,
                    backlog_alert: dt.timedelta = BACKLOG_ALERT) -> list[TerminalState]:
    states = []
    for terminal in session.scalars(select(Terminal).where(Terminal.school_id == school_id).order_by(Terminal.id)):
        highest, gaps = sequence_gaps(session, terminal.id)
        last = terminal.last_contact_at
        online = terminal.status == "active" and last is not None and now - last <= ONLINE_WITHIN
        states.append(TerminalState(terminal.id, terminal.label, terminal.status, last, online, highest,
                                    tuple(gaps), backlog_of(terminal, now, backlog_alert)))
    return states


@dataclass(frozen=True)
class CalendarEntry:
    day: dt.date
    kind: str | None
    note: str | None


def month_calendar(session: Session, school_id: int, first: dt.date, last: dt.date) -> list[CalendarEntry]:
    """Every day from `first` to `last`, with the calendar's kind where it has a row."""
    rows = {d: (k, n) for d, k, n in session.execute(
        select(CalendarDay.day, CalendarDay.kind, CalendarDay.note)
        .where(CalendarDay.school_id == school_id, CalendarDay.day >= first, CalendarDay.day <= last))}
    days = []
    day = first
    while day <= last:
        kind, note = rows.get(day, (None, None))
        days.append(CalendarEntry(day, kind, note))
        day += dt.timedelta(days=1)
    return days


def school_menu(session: Session, school_id: int, day: dt.date) -> dict[str, list[Dish]]:
    found = menus_for(session, {(school_id, day, m) for m in MEAL_TYPES})
    return {m: found[(school_id, day, m)] for m in MEAL_TYPES if (school_id, day, m) in found}
