"""A few findings of each kind the demo's data allow, so that `make run` shows the Findings page with content.

From the month of QR meals (wallet/demo/qr_meals.py): the class journal marks a few pupils absent on days
they ate (absent_but_billed); a guardian disputes one meal (parent_dispute); the scan over the months the
meals fall in finds the demo's fast lunch lines (serving_rate: its QR meals are drawn at random within an
hour).

And one suspect serving line, generated and recorded through the real ingest like the QR meals: at the
school with the most active vouchers, on its last serving day before the QR month, a terminal
`T-demo-line-<BIN>` records up to 24 lunches picked from the roster (weak identification: the day's share
trips weak_identification_share when the school has 20 such pupils or more), and half of them carry
sequence numbers whose times run 50 minutes behind the first half's (a second device with the same key:
cloned_device); the journal says everybody but those pupils less two was away that day
(above_enrolled_present, and absent_but_billed for the two it marks absent although they ate). A pupil
billed at two schools is not made (the demo's vouchers are held at one school each), nor a day declared
closed later (the demo calendar is re-imported by every run, which would undo it). Deterministic, and a
second run adds nothing (marks, disputes, the line's terminal and findings are keyed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from wallet.demo.qr_meals import DAYS, _unheld_public_key
from wallet.errors import Conflict
from wallet.evidence.disputes import dispute_meal
from wallet.evidence.scan import scan
from wallet.ingest import Batch, MealEvent, record_batch
from wallet.models import (
    AttendanceMark,
    CalendarDay,
    Enrollment,
    Finding,
    GuardianLink,
    LedgerEntry,
    School,
    Terminal,
    Voucher,
)
from wallet.months import Month

ABSENT_MEALS = 4
DEMO_LINE_TERMINAL = "T-demo-line-"  # + the school's BIN
LINE_MEALS = 24
LINE_ABSENT_EATERS = 2  # eaters the journal marks absent all the same
LINE_GAP = dt.timedelta(seconds=50)
CLONE_BEHIND = dt.timedelta(minutes=50)
LINE_TOLERANCE = dt.timedelta(minutes=15)


def make_demo_evidence(session_factory: sessionmaker[Session], *, today: dt.date, seed: int) -> Counter[str]:
    rng = random.Random(seed * 16 + 1)
    now = dt.datetime.now(dt.UTC)
    _suspect_line(session_factory, today, now)
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


def _suspect_line(session_factory: sessionmaker[Session], today: dt.date, now: dt.datetime) -> None:
    """The suspect serving line of the module's docstring (nothing when its terminal has entries already)."""
    with session_factory() as session:
        holders = list(session.execute(
            select(Voucher.school_id, Voucher.student_id).where(Voucher.status == "active")
            .order_by(Voucher.school_id, Voucher.student_id)))
        by_school: dict[int, list[uuid.UUID]] = {}
        for school_id, student_id in holders:
            by_school.setdefault(school_id, []).append(student_id)
        if not by_school:
            return
        school_id = max(sorted(by_school), key=lambda s: len(by_school[s]))
        school = session.get_one(School, school_id)
        terminal_id = f"{DEMO_LINE_TERMINAL}{school.bin}"
        if session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.terminal_id == terminal_id)):
            return
        before = today - dt.timedelta(days=DAYS + 1)
        day = session.scalar(select(func.max(CalendarDay.day)).where(
            CalendarDay.school_id == school_id, CalendarDay.kind == "serving", CalendarDay.day <= before))
        if day is None:
            return
        eaters = [s for s in by_school[school_id]
                  if session.scalar(select(Voucher.id).where(
                      Voucher.student_id == s, Voucher.school_id == school_id, Voucher.status == "active",
                      Voucher.valid_from <= day, Voucher.valid_to >= day)) is not None][:LINE_MEALS]
        terminal = session.get(Terminal, terminal_id) or Terminal(
            id=terminal_id, school_id=school_id, public_key=_unheld_public_key(), status="active",
            label="demo: a roster line whose key two devices use", created_at=now)
        session.add(terminal)
        session.commit()
        zone = ZoneInfo(school.timezone)
        first = dt.datetime.combine(day, dt.time(12, 0), zone)
        half = len(eaters) // 2
        events = [MealEvent(
            index=i, event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{terminal_id}/{i + 1}"), device_seq=i + 1,
            student_ref=str(student), meal_type="lunch", method="roster",
            served_at=(first + LINE_GAP * i - (CLONE_BEHIND if i >= half else dt.timedelta())).astimezone(dt.UTC))
            for i, student in enumerate(eaters)]
        uploaded = dt.datetime.combine(day, dt.time(14, 0), zone).astimezone(dt.UTC)
        record_batch(session, terminal, Batch(terminal_id, uploaded, uploaded, events), clock_tolerance=LINE_TOLERANCE)
        present = set(eaters[:-LINE_ABSENT_EATERS])
        enrolled = session.scalars(select(Enrollment.student_id).where(
            Enrollment.school_id == school_id, Enrollment.valid_from <= day,
            or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= day)))
        marked = set(session.scalars(select(AttendanceMark.student_id).where(
            AttendanceMark.school_id == school_id, AttendanceMark.day == day)))
        for student_id in sorted(set(enrolled) - present - marked):
            session.add(AttendanceMark(student_id=student_id, school_id=school_id, day=day, mark="absent",
                                       imported_at=now))
        session.commit()
