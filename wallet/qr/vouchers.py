"""Which voucher a child holds today, straight from the `vouchers` table.

The voucher lifecycle (wallet.vouchers, another branch) will provide `active_voucher` and
`active_vouchers` with exactly this meaning; until it is merged these stand in for them, and at the merge
the callers switch to wallet.vouchers and this module goes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import Voucher

ACTIVE = "active"


def active_voucher(session: Session, student_id: uuid.UUID, school_id: int, day: dt.date) -> Voucher | None:
    """The child's voucher at this school that is active and valid on `day`, or None."""
    return session.scalars(
        select(Voucher).where(Voucher.student_id == student_id, Voucher.school_id == school_id,
                              Voucher.status == ACTIVE, Voucher.valid_from <= day, Voucher.valid_to >= day)
        .order_by(Voucher.valid_from.desc()).limit(1)
    ).first()


def vouchers_by_id(session: Session, voucher_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Voucher]:
    """The vouchers with these ids, whatever their state (ingest judges state and day itself)."""
    ids = set(voucher_ids)
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Voucher).where(Voucher.id.in_(ids)))}


def is_active_on(voucher: Voucher | None, school_id: int, day: dt.date) -> bool:
    return (voucher is not None and voucher.status == ACTIVE and voucher.school_id == school_id
            and voucher.valid_from <= day <= voucher.valid_to)
