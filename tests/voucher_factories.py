"""Vouchers for the test world: offer through the service, or put a voucher straight into a status."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import Student, Voucher, VoucherConsent, VoucherTransition
from wallet.vouchers.offers import offer_vouchers
from wallet.vouchers.years import parse_school_year, school_year_of

CONSENT_VERSION = "2026-1"


@pytest.fixture(name="offers")
def offers_fixture(session_factory, world, parent, other_parent):  # type: ignore[no-untyped-def]
    """Offers to every entitled pupil of the world, through the service; returns {student id: voucher id}.
    Import it into a test module by its function name, like the parent fixtures."""
    with session_factory() as session:
        offer_vouchers(session, school_year_of(world.today), world.today)
        session.commit()
        return {v.student_id: v.id for v in session.scalars(select(Voucher))}


def voucher_for(session: Session, student: Student, school_id: int, status: str = "active", *,
                today: dt.date, now: dt.datetime | None = None, parent_iin: str | None = None,
                valid_from: dt.date | None = None, offer_days: int = 30) -> Voucher:
    """A voucher of the school year of `today` in `status`, with the rows its history would have left."""
    now = now or dt.datetime.now(dt.UTC)
    year = school_year_of(today)
    start, end = parse_school_year(year)
    voucher = Voucher(id=uuid.uuid4(), student_id=student.id, school_id=school_id, school_year=year,
                      category_code="primary_grades", valid_from=valid_from or start, valid_to=end, status=status,
                      offered_at=now, offer_expires_at=now + dt.timedelta(days=offer_days), status_changed_at=now)
    session.add(voucher)
    session.flush()
    session.add(VoucherTransition(voucher_id=voucher.id, from_status=None, to_status="offered", reason="entitled",
                                  actor_role="system", actor_id="system", at=now))
    if status != "offered":
        session.add(VoucherTransition(voucher_id=voucher.id, from_status="offered", to_status=status,
                                      reason="test", actor_role="system", actor_id="system", at=now))
    if status in ("accepted", "active", "suspended") and parent_iin:
        session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=parent_iin, decision="accepted",
                                   text_version=CONSENT_VERSION, at=now))
    session.commit()
    return voucher
