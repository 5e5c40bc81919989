"""What the ingest checks about a meal event that carries a QR token (already decoded and signature-checked).

A forged or undecodable token never gets here: the event is invalid and nothing is stored. A token this
service did sign is a fact worth recording even when it must be refused, so each problem is a reason code
on a `not_billable` entry:

- `qr_token_other_school`: signed for another school (it is not spent there);
- `qr_token_other_meal_type`: signed for another meal type;
- `qr_token_expired`: the meal's servedAt is outside notBefore..expires by more than the device-clock
  tolerance;
- `qr_token_reused`: an earlier event (any terminal, any batch, or earlier in this batch) spent it;
- `voucher_not_active`: the voucher is not active at this school on the serving day;
- `qr_token_other_student`: the event also names a studentId that is not the voucher's child.

A token is spent by the first event that presents it at its own school, whatever that event's verdict:
one presentation, one ledger entry that counts. All spending happens under that school's chain-head lock,
so concurrent batches see each other's uses; the primary key of `qr_token_uses` is the backstop.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import LedgerEntry, QrTokenUse, Voucher
from wallet.qr.reasons import (
    QR_TOKEN_EXPIRED,
    QR_TOKEN_OTHER_MEAL_TYPE,
    QR_TOKEN_OTHER_SCHOOL,
    QR_TOKEN_OTHER_STUDENT,
    QR_TOKEN_REUSED,
    VOUCHER_NOT_ACTIVE,
)
from wallet.qr.token import QrClaims
from wallet.vouchers.coverage import covers, vouchers_by_id


@dataclass
class QrBatchContext:
    """QR facts for one batch at one school, loaded under the chain-head lock."""

    school_id: int
    school_bin: str
    tolerance: dt.timedelta
    vouchers: dict[uuid.UUID, Voucher] = field(default_factory=dict)
    spent: set[uuid.UUID] = field(default_factory=set)
    new_uses: list[tuple[QrClaims, LedgerEntry]] = field(default_factory=list)

    def student_ref(self, claims: QrClaims, sent_ref: str) -> str:
        """The hashed studentRef: what the terminal sent, else the voucher's child, else the voucher itself."""
        if sent_ref:
            return sent_ref
        voucher = self.vouchers.get(claims.voucher_id)
        return str(voucher.student_id) if voucher is not None else f"voucher:{claims.voucher_id}"

    def problems(self, claims: QrClaims, *, sent_ref: str, meal_type: str, served_at: dt.datetime,
                 day: dt.date) -> list[str]:
        """The reason codes for this presentation; marks the token spent when this one spends it."""
        reasons: list[str] = []
        own_school = claims.school_bin == self.school_bin
        if not own_school:
            reasons.append(QR_TOKEN_OTHER_SCHOOL)
        if claims.meal_type != meal_type:
            reasons.append(QR_TOKEN_OTHER_MEAL_TYPE)
        served = served_at.timestamp()
        slack = self.tolerance.total_seconds()
        if served < claims.not_before - slack or served > claims.expires + slack:
            reasons.append(QR_TOKEN_EXPIRED)
        if own_school:
            if claims.token_id in self.spent:
                reasons.append(QR_TOKEN_REUSED)
            else:
                self.spent.add(claims.token_id)
        voucher = self.vouchers.get(claims.voucher_id)
        if not covers(voucher, self.school_id, day):
            reasons.append(VOUCHER_NOT_ACTIVE)
        if sent_ref and voucher is not None and sent_ref != str(voucher.student_id):
            reasons.append(QR_TOKEN_OTHER_STUDENT)
        return reasons

    def spends(self, claims: QrClaims, reasons: Iterable[str], entry: LedgerEntry) -> None:
        """Remember that `entry` spent the token (called for the presentation that did)."""
        if claims.school_bin == self.school_bin and QR_TOKEN_REUSED not in reasons:
            self.new_uses.append((claims, entry))

    def record_uses(self, session: Session) -> None:
        """Insert the spent tokens (after the entries have their ids)."""
        session.add_all(
            QrTokenUse(token_id=claims.token_id, school_id=self.school_id, voucher_id=claims.voucher_id,
                       entry_id=entry.id, expires_at=dt.datetime.fromtimestamp(claims.expires, dt.UTC))
            for claims, entry in self.new_uses
        )


def load_qr_context(session: Session, school_id: int, school_bin: str, claims: list[QrClaims],
                    tolerance: dt.timedelta) -> QrBatchContext:
    ctx = QrBatchContext(school_id=school_id, school_bin=school_bin, tolerance=tolerance)
    if not claims:
        return ctx
    ctx.vouchers = vouchers_by_id(session, {c.voucher_id for c in claims})
    token_ids = {c.token_id for c in claims}
    ctx.spent = set(session.scalars(select(QrTokenUse.token_id).where(QrTokenUse.token_id.in_(token_ids))))
    return ctx
