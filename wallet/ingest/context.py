"""Everything the rules need to judge one batch, loaded with a handful of queries (never one per event)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wallet.categories import CATEGORY_PRIORITY
from wallet.db import one_of
from wallet.evidence.windows import Window, inside, windows_for
from wallet.models import (
    CalendarDay,
    ClosedPeriod,
    Contract,
    ContractPrice,
    Enrollment,
    MealSlot,
    School,
    ServingWindow,
    Student,
    StudentEligibility,
)
from wallet.vouchers.programme import VoucherState, meal_covered, voucher_states
from wallet.vouchers.years import school_year_of


def _covers(valid_from: dt.date, valid_to: dt.date | None, day: dt.date) -> bool:
    return valid_from <= day and (valid_to is None or day <= valid_to)


def parse_student_ref(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


@dataclass(frozen=True)
class PriceLine:
    contract_id: int
    valid_from: dt.date
    valid_to: dt.date
    meal_type: str
    category: str
    price_tiyn: int


@dataclass
class SchoolContext:
    school: School
    zone: ZoneInfo
    students: set[uuid.UUID] = field(default_factory=set)
    enrollments: dict[uuid.UUID, list[tuple[dt.date, dt.date | None]]] = field(default_factory=dict)
    eligibility: dict[uuid.UUID, list[tuple[str, dt.date, dt.date]]] = field(default_factory=dict)
    day_kinds: dict[dt.date, str] = field(default_factory=dict)
    prices: list[PriceLine] = field(default_factory=list)
    served: set[tuple[uuid.UUID, dt.date, str]] = field(default_factory=set)
    closed_months: set[str] = field(default_factory=set)
    vouchers: dict[tuple[uuid.UUID, str], VoucherState] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    default_windows: list[Window] = field(default_factory=list)

    def serving_day(self, served_at: dt.datetime) -> dt.date:
        return served_at.astimezone(self.zone).date()

    def enrolled(self, student: uuid.UUID, day: dt.date) -> bool:
        return any(_covers(a, b, day) for a, b in self.enrollments.get(student, ()))

    def category(self, student: uuid.UUID, day: dt.date) -> str | None:
        codes = {code for code, a, b in self.eligibility.get(student, ()) if _covers(a, b, day)}
        ranked = sorted(codes, key=lambda c: (CATEGORY_PRIORITY.index(c) if c in CATEGORY_PRIORITY else 99, c))
        return ranked[0] if ranked else None

    def covered(self, student: uuid.UUID, day: dt.date, category: str) -> bool:
        """The programme's voucher rule (wallet.vouchers.programme), the same for every method."""
        return meal_covered(self.vouchers.get((student, school_year_of(day))), category, day)

    def in_window(self, served_at: dt.datetime, meal_type: str) -> bool:
        """The school's serving window for the meal type, else the programme's default (wallet.evidence.windows)."""
        return inside(windows_for(self.windows, self.default_windows, meal_type), served_at, self.zone)

    def price(self, day: dt.date, meal_type: str, category: str) -> PriceLine | None:
        for line in self.prices:
            if line.meal_type == meal_type and line.category == category and _covers(
                line.valid_from, line.valid_to, day
            ):
                return line
        return None


def load_context(
    session: Session, school: School, student_ids: Iterable[uuid.UUID], days: Iterable[dt.date]
) -> SchoolContext:
    ctx = SchoolContext(school=school, zone=ZoneInfo(school.timezone))
    ids, day_set = set(student_ids), set(days)
    if not day_set:
        return ctx
    if ids:
        ctx.students = set(session.scalars(select(Student.id).where(one_of(session, Student.id, ids))))
        enrollments: dict[uuid.UUID, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
        for sid, a, b in session.execute(
            select(Enrollment.student_id, Enrollment.valid_from, Enrollment.valid_to).where(
                Enrollment.school_id == school.id, one_of(session, Enrollment.student_id, ids)
            )
        ):
            enrollments[sid].append((a, b))
        ctx.enrollments = dict(enrollments)
        eligibility: dict[uuid.UUID, list[tuple[str, dt.date, dt.date]]] = defaultdict(list)
        for sid, code, a, b in session.execute(
            select(StudentEligibility.student_id, StudentEligibility.category_code,
                   StudentEligibility.valid_from, StudentEligibility.valid_to)
            .where(one_of(session, StudentEligibility.student_id, ids))
        ):
            eligibility[sid].append((code, a, b))
        ctx.eligibility = dict(eligibility)
        ctx.vouchers = voucher_states(session, school.id, ids, day_set)
        ctx.served = {
            (sid, day, meal)
            for sid, day, meal in session.execute(
                select(MealSlot.student_id, MealSlot.serving_day, MealSlot.meal_type).where(
                    one_of(session, MealSlot.student_id, ids), one_of(session, MealSlot.serving_day, day_set)
                )
            )
        }
    ctx.day_kinds = {
        day: kind
        for day, kind in session.execute(
            select(CalendarDay.day, CalendarDay.kind).where(
                CalendarDay.school_id == school.id, one_of(session, CalendarDay.day, day_set)
            )
        )
    }
    ctx.prices = [
        PriceLine(*row)
        for row in session.execute(
            select(Contract.id, Contract.valid_from, Contract.valid_to, ContractPrice.meal_type,
                   ContractPrice.category_code, ContractPrice.price_tiyn)
            .join(ContractPrice, ContractPrice.contract_id == Contract.id)
            .where(Contract.school_id == school.id, Contract.valid_from <= max(day_set),
                   Contract.valid_to >= min(day_set))
            .order_by(Contract.valid_from, Contract.id)
        )
    ]
    for school_id, *window in session.execute(
        select(ServingWindow.school_id, ServingWindow.meal_type, ServingWindow.shift, ServingWindow.start_minute,
               ServingWindow.end_minute)
        .where(or_(ServingWindow.school_id == school.id, ServingWindow.school_id.is_(None)))
    ):
        (ctx.windows if school_id is not None else ctx.default_windows).append(Window(*window))
    months = {f"{d:%Y-%m}" for d in day_set}
    ctx.closed_months = set(
        session.scalars(
            select(ClosedPeriod.month).where(ClosedPeriod.region_id == school.region_id,
                                             ClosedPeriod.month.in_(months))
        )
    )
    return ctx


