"""Who takes part in a demo run: the schools whose simulated terminals post meals, and the parents whose
simulated apps fetch QR codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import GuardianLink, School, Voucher


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
