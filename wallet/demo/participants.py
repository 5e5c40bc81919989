"""Who takes part in a demo run: the schools whose simulated terminals post meals, and the parents whose
simulated apps fetch QR codes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from wallet.demo.qr_meals import DEMO_QR_TERMINAL
from wallet.models import GuardianLink, LedgerEntry, School, Voucher
from wallet.roster import build_roster


def first_school_bins(session: Session, count: int) -> list[str]:
    """The BINs of the first `count` schools, in the order they were made."""
    return list(session.scalars(select(School.bin).order_by(School.id).limit(count)))


def parents_with_active_vouchers(session: Session, school_bin: str, limit: int) -> list[str]:
    """IINs of parents with a child at the school who holds an active voucher, in IIN order."""
    return list(session.scalars(
        select(GuardianLink.parent_iin).distinct()
        .join(Voucher, Voucher.student_id == GuardianLink.student_id)
        .join(School, School.id == Voucher.school_id)
        .where(School.bin == school_bin, Voucher.status == "active")
        .order_by(GuardianLink.parent_iin).limit(limit)))


@dataclass(frozen=True)
class DemoParent:
    """A parent to sign in as in development, told apart by what their children hold."""

    iin: str
    children: int
    offered: int  # vouchers still to answer (the parent's app shows the offer)
    active: int


def demo_parents(session: Session, limit: int = 20) -> list[DemoParent]:
    """Parents worth signing in as, best first: with an open voucher offer and an active voucher (the offer
    to accept and meals to see), then with an offer, then the others; the most children first, then by IIN.
    Each parent's children and vouchers are counted once."""
    v = select(Voucher.student_id, Voucher.status).where(Voucher.status.in_(("offered", "active"))).subquery()
    offered = func.count(func.distinct(case((v.c.status == "offered", v.c.student_id))))
    active = func.count(func.distinct(case((v.c.status == "active", v.c.student_id))))
    children = func.count(func.distinct(GuardianLink.student_id))
    rows = session.execute(
        select(GuardianLink.parent_iin, children, offered, active)
        .outerjoin(v, v.c.student_id == GuardianLink.student_id)
        .group_by(GuardianLink.parent_iin)
        .order_by(case((and_(offered > 0, active > 0), 0), (offered > 0, 1), else_=2), children.desc(),
                  GuardianLink.parent_iin)
        .limit(limit))
    return [DemoParent(iin, int(n), int(o), int(a)) for iin, n, o, a in rows]


def school_for_the_rush(session: Session, now: dt.datetime) -> tuple[int, str]:
    """(index in first_school_bins order, BIN) of the first school whose canteen has not served today's
    entitled pupils yet (by terminals other than demo-data's QR terminals), so that a demo started again on
    the same day serves a canteen with pupils still waiting; the first school when every one has served
    (or today is no serving day anywhere)."""
    schools = list(session.scalars(select(School).order_by(School.id)))
    for index, school in enumerate(schools):
        roster = build_roster(session, school, now)
        entitled = {p["studentId"] for p in roster["students"] if p["mealTypes"]}
        if not entitled:
            continue
        served = {str(sid) for sid in session.scalars(
            select(LedgerEntry.student_id).distinct().where(
                LedgerEntry.school_id == school.id, LedgerEntry.kind == "meal",
                LedgerEntry.serving_day == dt.date.fromisoformat(roster["servingDay"]),
                LedgerEntry.student_id.is_not(None), LedgerEntry.terminal_id.not_like(f"{DEMO_QR_TERMINAL}%")))}
        if entitled - served:
            return index, school.bin
    return 0, schools[0].bin if schools else ""
