"""A few findings of each kind the demo's data allow, so that `make run` shows the Findings page with content.

From the month of QR meals (wallet/demo/qr_meals.py): the class journal marks a few pupils absent on days
they ate (absent_but_billed); a guardian disputes one meal (parent_dispute); the scan over the months the
meals fall in finds the demo's fast lunch lines (serving_rate: its QR meals are drawn at random within an
hour). A day declared closed later is not made: the demo calendar is re-imported by every run, which
would undo it. Deterministic, and a second run adds nothing (marks, disputes and findings are keyed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallet.errors import Conflict
from wallet.evidence.disputes import dispute_meal
from wallet.evidence.scan import scan
from wallet.models import AttendanceMark, Finding, GuardianLink, LedgerEntry, School
from wallet.months import Month

ABSENT_MEALS = 4


def make_demo_evidence(session_factory: sessionmaker[Session], *, today: dt.date, seed: int) -> Counter[str]:
    rng = random.Random(seed * 16 + 1)
    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        meals = list(session.execute(
            select(LedgerEntry.id, LedgerEntry.student_id, LedgerEntry.school_id, LedgerEntry.serving_day)
            .where(LedgerEntry.kind == "meal", LedgerEntry.verdict == "billable", LedgerEntry.student_id.is_not(None))
            .order_by(LedgerEntry.id)))
        if not meals:
            return Counter()
        for _, student_id, school_id, day in rng.sample(meals, min(ABSENT_MEALS, len(meals))):
            known = session.scalar(select(AttendanceMark.id).where(AttendanceMark.student_id == student_id,
                                                                   AttendanceMark.day == day))
            if known is None:
                session.add(AttendanceMark(student_id=student_id, school_id=school_id, day=day, mark="absent",
                                           imported_at=now))
        session.commit()
        linked = session.execute(
            select(LedgerEntry.id, LedgerEntry.student_id, GuardianLink.parent_iin)
            .join(GuardianLink, GuardianLink.student_id == LedgerEntry.student_id)
            .where(LedgerEntry.kind == "meal", LedgerEntry.verdict == "billable").order_by(LedgerEntry.id)
            .limit(1)).first()
    if linked is not None:
        with session_factory() as session, contextlib.suppress(Conflict):  # disputed by an earlier run
            dispute_meal(session, parent_iin=linked[2], child_id=linked[1], entry_id=linked[0],
                         comment="He was at home that day.", now=now)
    months = sorted({Month.of(day) for *_, day in meals}, key=str)
    with session_factory() as session:
        schools = list(session.scalars(select(School.id)))
        for month in months:
            scan(session, _AllSchools(schools), month, now=now)
        session.commit()
        return Counter(session.scalars(select(Finding.rule)))


class _AllSchools:
    label = "all"

    def __init__(self, ids: list[int]) -> None:
        self._ids = ids

    @property
    def school_ids(self) -> list[int]:
        return self._ids
