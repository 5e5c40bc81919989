"""Issuing a dynamic QR token to a parent for one of their children.

Only the parent's own child (any other id is the parents' usual 404), enrolled at a school today and
holding a voucher that is active today, gets a token; the request is written to the child's access log
(whether or not a token is given). The token names the voucher, the school, the meal type and a few
minutes of validity, never the child.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from wallet.errors import Conflict, InvalidInput
from wallet.ledger.signing import SigningKey
from wallet.messages import T_
from wallet.parents.access_log import AccessNote
from wallet.parents.children import find_child
from wallet.qr.token import QrClaims, encode_token
from wallet.vouchers import active_voucher

MIN_LIFETIME_S = 30
ACCESS_ACTION = "qr_token"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    meal_type: str
    not_before: dt.datetime
    expires_at: dt.datetime


def lifetime_bounds(max_lifetime_s: int) -> tuple[int, int]:
    return (min(MIN_LIFETIME_S, max_lifetime_s), max_lifetime_s)


def issue_qr_token(
    session: Session, *, parent_iin: str, child_id: uuid.UUID | None, meal_type: str, lifetime_s: int | None,
    max_lifetime_s: int, key: SigningKey, now: dt.datetime, actor_role: str = "parent",
) -> IssuedToken:
    low, high = lifetime_bounds(max_lifetime_s)
    lifetime = high if lifetime_s is None else lifetime_s
    if not low <= lifetime <= high:
        raise InvalidInput("validation_failed", T_("lifetimeS must be %(low)s-%(high)s seconds.", low=low, high=high))
    child = find_child(session, parent_iin, child_id, now,
                       log=AccessNote(actor_role, parent_iin, ACCESS_ACTION, meal_type), consent=True)
    placement = child.current if child.enrolled_today else None
    voucher = None
    if placement is not None:
        day = now.astimezone(ZoneInfo(placement.school.timezone)).date()
        voucher = active_voucher(session, child.id, placement.school.id, day)
    if placement is None or voucher is None:
        raise Conflict("no_active_voucher", T_("The child has no active free-meal voucher at a school today."))
    # Whole seconds: the token carries Unix seconds; not-before is rounded down so it is valid at once.
    not_before = math.floor(now.timestamp())
    claims = QrClaims(token_id=uuid.uuid4(), voucher_id=voucher.id, school_bin=placement.school.bin,
                      meal_type=meal_type, not_before=not_before, expires=not_before + lifetime, key_id=key.key_id)
    return IssuedToken(token=encode_token(claims, key), meal_type=meal_type,
                       not_before=dt.datetime.fromtimestamp(claims.not_before, dt.UTC),
                       expires_at=dt.datetime.fromtimestamp(claims.expires, dt.UTC))
