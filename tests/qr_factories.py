"""Vouchers and QR tokens for tests: a voucher row as the voucher lifecycle would leave it, and tokens
signed with the app's own (development) QR key or with a stranger's."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy.orm import Session

from wallet.config import Settings
from wallet.keys import load_qr_signing_key
from wallet.ledger.signing import SigningKey
from wallet.models import Student, Voucher
from wallet.qr.token import QrClaims, QrKeyring, encode_token
from wallet.vouchers.years import school_year_of


def add_voucher(session: Session, student: Student, school_id: int, *, status: str = "active",
                valid_from: dt.date | None = None, valid_to: dt.date | None = None,
                now: dt.datetime | None = None) -> Voucher:
    """A voucher of the school year of today (or of `now`), valid from 90 days before to 200 days after."""
    now = now or dt.datetime.now(dt.UTC)
    today = now.date()
    voucher = Voucher(id=uuid.uuid4(), student_id=student.id, school_id=school_id, school_year=school_year_of(today),
                      category_code="primary_grades", valid_from=valid_from or today - dt.timedelta(days=90),
                      valid_to=valid_to or today + dt.timedelta(days=200), status=status, offered_at=now,
                      offer_expires_at=now + dt.timedelta(days=30), status_changed_at=now)
    session.add(voucher)
    session.commit()
    return voucher


def qr_key(settings: Settings) -> SigningKey:
    return load_qr_signing_key(settings)


def keyring(settings: Settings) -> QrKeyring:
    key = qr_key(settings)
    return QrKeyring({key.key_id: key.public_key_raw})


def make_token(key: SigningKey, voucher: Voucher | uuid.UUID, school_bin: str, *, meal_type: str = "lunch",
               not_before: float | None = None, lifetime_s: int = 300, token_id: uuid.UUID | None = None) -> str:
    start = int(time.time() if not_before is None else not_before)
    voucher_id = voucher if isinstance(voucher, uuid.UUID) else voucher.id
    claims = QrClaims(token_id=token_id or uuid.uuid4(), voucher_id=voucher_id, school_bin=school_bin,
                      meal_type=meal_type, not_before=start, expires=start + lifetime_s, key_id="")
    return encode_token(claims, key)


def qr_event(token: str, seq: int, *, meal_type: str = "lunch", served_at: dt.datetime | None = None,
             event_id: uuid.UUID | None = None, **extra: Any) -> dict[str, Any]:
    from tests.factories import uuid7

    served = served_at or dt.datetime.now(dt.UTC)
    return {"eventId": str(event_id or uuid7(served)), "deviceSeq": seq, "qrToken": token, "mealType": meal_type,
            "servedAt": served.isoformat().replace("+00:00", "Z"), "method": "qr", **extra}
