"""Vouchers for the test world: offer through the service, or put a voucher straight into a status."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from wallet.models import Student, Voucher, VoucherConsent, VoucherTransition
from wallet.vouchers.years import parse_school_year, school_year_of

CONSENT_VERSION = "2026-1"


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
