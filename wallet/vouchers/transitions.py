"""The one way a voucher changes status: checked against the lifecycle, recorded as a transition row.

Below both the guardians' answers (wallet.vouchers.service) and the jobs (wallet.vouchers.offers), which
import it and never each other in a circle.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from wallet.models import Voucher, VoucherTransition
from wallet.vouchers.lifecycle import check_transition


def transition(session: Session, voucher: Voucher, to_status: str, reason: str, *, actor_role: str,
               actor_id: str, now: dt.datetime) -> VoucherTransition:
    """Move a (locked) voucher to `to_status`, appending the transition row; TransitionNotAllowed if illegal."""
    check_transition(voucher.status, to_status, reason)
    row = VoucherTransition(voucher_id=voucher.id, from_status=voucher.status, to_status=to_status,
                            reason=reason, actor_role=actor_role, actor_id=actor_id[:80], at=now)
    voucher.status = to_status
    voucher.status_changed_at = now
    session.add(row)
    return row
