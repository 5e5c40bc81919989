"""The vouchers that QR tokens name, as ingest needs them: the rows by id, whatever their state, and the
one rule of coverage (the same as `wallet.vouchers.active_voucher`: active, at this school, on this day).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import Voucher

ACTIVE = "active"


def vouchers_by_id(session: Session, voucher_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Voucher]:
    """The vouchers with these ids, whatever their state (ingest judges state and day itself)."""
    ids = set(voucher_ids)
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Voucher).where(Voucher.id.in_(ids)))}


def is_active_on(voucher: Voucher | None, school_id: int, day: dt.date) -> bool:
    return (voucher is not None and voucher.status == ACTIVE and voucher.school_id == school_id
            and voucher.valid_from <= day <= voucher.valid_to)
