"""Offers made from eligibility, and keeping vouchers in step with it.

- `offer_vouchers`: every pupil entitled today (eligible on some ground and enrolled at a school) who has
  no voucher for the school year at that school gets an offer, and their guardians a notification.
- `sync_vouchers`: unanswered offers whose window closed lapse; accepted vouchers become active when their
  validity begins; active ones are suspended when eligibility or enrollment ends, and active again when
  it returns.
- `expire_vouchers`: after the school year, every voucher still live expires.

They work in the caller's transaction and do not commit. Offer notifications go to the parents' outbox
under the school's chain-head lock, as ingest's do, so the outbox's per-school cursor stays exact
(wallet.parents.notifications).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, insert, or_, select
from sqlalchemy.orm import Session

from wallet.categories import CATEGORY_PRIORITY
from wallet.ledger.append import lock_chain_head
from wallet.models import Enrollment, ParentNotification, StudentEligibility, Voucher, VoucherTransition
from wallet.vouchers.lifecycle import FINAL_STATUSES
from wallet.vouchers.transitions import transition
from wallet.vouchers.years import parse_school_year

# How long a guardian has to answer an offer (never past the end of the school year).
OFFER_WINDOW = dt.timedelta(days=30)
SYSTEM = "system"
CHUNK = 900
NOTIFICATION_KIND_OFFER = "voucher_offered"


@dataclass
class VoucherReport:
    offered: int = 0
    changed: dict[str, int] = field(default_factory=dict)  # "from->to" -> count

    def count(self, from_status: str, to_status: str) -> None:
        key = f"{from_status}->{to_status}"
        self.changed[key] = self.changed.get(key, 0) + 1

    def summary(self) -> str:
        parts = [f"{self.offered} offered"] if self.offered else []
        parts += [f"{n} {k}" for k, n in sorted(self.changed.items())]
        return ", ".join(parts) or "nothing to do"


def _rank(code: str) -> tuple[int, str]:
    return (CATEGORY_PRIORITY.index(code) if code in CATEGORY_PRIORITY else 99, code)


def _covering(valid_from: object, valid_to: object, day: dt.date) -> object:
    return and_(valid_from <= day, or_(valid_to.is_(None), valid_to >= day))  # type: ignore[attr-defined,operator]


def _chunks(items: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@dataclass(frozen=True)
class Entitlement:
    """What makes a pupil entitled at a school on a day: the ground (by priority) and its start."""

    category: str
    since: dt.date


def entitlements(session: Session, student_ids: Iterable[uuid.UUID],
                 day: dt.date) -> dict[tuple[uuid.UUID, int], Entitlement]:
    """(student, school) -> entitlement, for the pupils eligible on `day` and enrolled at that school then."""
    ids = sorted(set(student_ids), key=str)
    grounds: dict[uuid.UUID, list[tuple[str, dt.date]]] = defaultdict(list)
    schools: dict[uuid.UUID, list[tuple[int, dt.date]]] = defaultdict(list)
    for batch in _chunks(ids):
        for sid, code, since in session.execute(
            select(StudentEligibility.student_id, StudentEligibility.category_code, StudentEligibility.valid_from)
            .where(StudentEligibility.student_id.in_(batch), StudentEligibility.valid_from <= day,
                   StudentEligibility.valid_to >= day)
        ):
            grounds[sid].append((code, since))
        for sid, school_id, since in session.execute(
            select(Enrollment.student_id, Enrollment.school_id, Enrollment.valid_from)
            .where(Enrollment.student_id.in_(batch), _covering(Enrollment.valid_from, Enrollment.valid_to, day))
        ):
            schools[sid].append((school_id, since))
    found: dict[tuple[uuid.UUID, int], Entitlement] = {}
    for sid, codes in grounds.items():
        code, since = min(codes, key=lambda c: _rank(c[0]))
        for school_id, enrolled_since in schools.get(sid, ()):
            found[(sid, school_id)] = Entitlement(code, max(since, enrolled_since))
    return found


def _reference_day(school_year: str, today: dt.date) -> tuple[dt.date, dt.date, dt.date | None]:
    """The year's bounds and the day entitlement is judged on (None once the year is over)."""
    start, end = parse_school_year(school_year)
    return start, end, None if today > end else max(today, start)


def offer_vouchers(session: Session, school_year: str, today: dt.date, now: dt.datetime | None = None, *,
                   school_ids: Iterable[int] | None = None) -> VoucherReport:
    """Offer a voucher to every entitled pupil without one for this year at that school; notify guardians."""
    now = now or dt.datetime.now(dt.UTC)
    start, end, day = _reference_day(school_year, today)
    report = VoucherReport()
    if day is None:
        return report
    has_voucher = exists().where(Voucher.student_id == Enrollment.student_id,
                                 Voucher.school_id == Enrollment.school_id, Voucher.school_year == school_year)
    query = (
        select(Enrollment.student_id).distinct()
        .join(StudentEligibility, StudentEligibility.student_id == Enrollment.student_id)
        .where(_covering(Enrollment.valid_from, Enrollment.valid_to, day), StudentEligibility.valid_from <= day,
               StudentEligibility.valid_to >= day, ~has_voucher)
    )
    if school_ids is not None:
        query = query.where(Enrollment.school_id.in_(sorted(set(school_ids))))
    candidates = list(session.scalars(query))
    if not candidates:
        return report
    wanted = set(school_ids) if school_ids is not None else None
    taken = {(sid, school) for sid, school in session.execute(
        select(Voucher.student_id, Voucher.school_id).where(Voucher.school_year == school_year,
                                                            Voucher.student_id.in_(candidates)))}
    by_school: dict[int, list[tuple[uuid.UUID, Entitlement]]] = defaultdict(list)
    for (sid, school_id), ent in entitlements(session, candidates, day).items():
        if (sid, school_id) not in taken and (wanted is None or school_id in wanted):
            by_school[school_id].append((sid, ent))
    expires = min(now + OFFER_WINDOW, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))
    for school_id in sorted(by_school):
        lock_chain_head(session, school_id)  # outbox ids of one school grow in commit order
        vouchers, transitions, notes = [], [], []
        for sid, ent in sorted(by_school[school_id], key=lambda p: str(p[0])):
            voucher_id = uuid.uuid4()
            vouchers.append({"id": voucher_id, "student_id": sid, "school_id": school_id, "school_year": school_year,
                             "category_code": ent.category, "valid_from": min(max(start, ent.since), end),
                             "valid_to": end, "status": "offered", "offered_at": now, "offer_expires_at": expires,
                             "status_changed_at": now})
            transitions.append({"voucher_id": voucher_id, "from_status": None, "to_status": "offered",
                                "reason": "entitled", "actor_role": SYSTEM, "actor_id": SYSTEM, "at": now})
            notes.append({"student_id": sid, "school_id": school_id, "kind": NOTIFICATION_KIND_OFFER,
                          "voucher_id": voucher_id, "created_at": now})
        # Core executemany, a statement per table and school: a national run offers hundreds of thousands.
        session.execute(insert(Voucher), vouchers)
        session.execute(insert(VoucherTransition), transitions)
        session.execute(insert(ParentNotification), notes)
        report.offered += len(vouchers)
    return report


def _lost_reason(session: Session, voucher: Voucher, day: dt.date) -> str:
    eligible = session.scalar(select(exists().where(
        StudentEligibility.student_id == voucher.student_id, StudentEligibility.valid_from <= day,
        StudentEligibility.valid_to >= day)))
    return "enrollment_ended" if eligible else "eligibility_lost"


def _move(session: Session, voucher: Voucher, to_status: str, reason: str, now: dt.datetime,
          report: VoucherReport | None = None) -> None:
    from_status = voucher.status
    transition(session, voucher, to_status, reason, actor_role=SYSTEM, actor_id=SYSTEM, now=now)
    if report is not None:
        report.count(from_status, to_status)


def settle_accepted(session: Session, voucher: Voucher, today: dt.date, now: dt.datetime,
                    report: VoucherReport | None = None) -> None:
    """An accepted voucher whose validity has begun becomes active, or suspended if the pupil is no longer
    entitled at its school; before its validity begins it stays accepted."""
    if not voucher.valid_from <= today <= voucher.valid_to:
        return
    if (voucher.student_id, voucher.school_id) in entitlements(session, [voucher.student_id], today):
        _move(session, voucher, "active", "validity_began", now, report)
    else:
        _move(session, voucher, "suspended", _lost_reason(session, voucher, today), now, report)


def sync_vouchers(session: Session, school_year: str, today: dt.date, now: dt.datetime | None = None, *,
                  school_ids: Iterable[int] | None = None) -> VoucherReport:
    """Bring the year's live vouchers in step with eligibility and enrollment on `today`."""
    now = now or dt.datetime.now(dt.UTC)
    _, end, _ = _reference_day(school_year, today)
    report = VoucherReport()
    query = (select(Voucher).where(Voucher.school_year == school_year, Voucher.status.not_in(FINAL_STATUSES))
             .order_by(Voucher.id).with_for_update())
    if school_ids is not None:
        query = query.where(Voucher.school_id.in_(sorted(set(school_ids))))
    vouchers = list(session.scalars(query))
    if today > end or not vouchers:
        return report
    entitled = entitlements(session, [v.student_id for v in vouchers], today)
    for voucher in vouchers:
        here = (voucher.student_id, voucher.school_id) in entitled
        if voucher.status == "offered":
            if now >= voucher.offer_expires_at:
                _move(session, voucher, "expired", "offer_lapsed", now, report)
        elif voucher.status == "accepted":
            settle_accepted(session, voucher, today, now, report)
        elif voucher.status == "active" and not here:
            _move(session, voucher, "suspended", _lost_reason(session, voucher, today), now, report)
        elif voucher.status == "suspended" and here and voucher.valid_from <= today:
            _move(session, voucher, "active", "eligibility_restored", now, report)
    session.flush()
    return report


def expire_vouchers(session: Session, school_year: str, today: dt.date, now: dt.datetime | None = None, *,
                    school_ids: Iterable[int] | None = None) -> VoucherReport:
    """After the year's last day, every voucher of the year that is not final expires."""
    now = now or dt.datetime.now(dt.UTC)
    _, end = parse_school_year(school_year)
    report = VoucherReport()
    if today <= end:
        return report
    query = (select(Voucher).where(Voucher.school_year == school_year, Voucher.status.not_in(FINAL_STATUSES))
             .order_by(Voucher.id).with_for_update())
    if school_ids is not None:
        query = query.where(Voucher.school_id.in_(sorted(set(school_ids))))
    for voucher in session.scalars(query):
        _move(session, voucher, "expired", "school_year_ended", now, report)
    session.flush()
    return report
