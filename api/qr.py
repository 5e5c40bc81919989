"""Dynamic QR tokens for parents: `POST /api/v1/parent/children/{childId}/qr`.

The view checks the body and the consent rule (403 `consent_required` for the caller's child whose vouchers
hold no accepted consent, before anything is logged), then wallet.qr.issue finds the parent's own child (the
same 404 as every other parents' endpoint), writes the access log and signs a token for a voucher that is
active today.
The QR signing key is read once per app (`qr_signing_key`); terminals get its public half in the roster.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import Schema, fields, validate

from api import session_scope
from api.auth.idp import authenticate_parent
from api.errors import ProblemError
from api.parents import _child_id, child_not_found_problem, private_answer
from api.schemas.common import StrictInteger, json_body, load
from api.schemas.parents import iso
from wallet.config import Settings
from wallet.db import read_only
from wallet.errors import FieldError
from wallet.keys import load_public_key_file, load_qr_signing_key
from wallet.ledger.signing import SigningKey
from wallet.messages import T_
from wallet.models import MEAL_TYPES
from wallet.parents.children import ChildNotFound
from wallet.qr.issue import issue_qr_token, lifetime_bounds
from wallet.qr.token import QrKeyring

blueprint = Blueprint("qr", __name__, url_prefix="/api/v1/parent")
blueprint.after_request(private_answer)

_EXTENSION = "wallet_qr_key"


class QrRequest(Schema):
    meal_type = fields.String(required=True, data_key="mealType", validate=validate.OneOf(MEAL_TYPES))
    lifetime_s = StrictInteger(data_key="lifetimeS", strict=True)


def _settings() -> Settings:
    return current_app.config["WALLET_SETTINGS"]


def qr_signing_key() -> SigningKey:
    """The app's QR signing key, read on first use (ConfigError, one line, when it cannot be used)."""
    key = current_app.extensions.get(_EXTENSION)
    if key is None:
        key = current_app.extensions[_EXTENSION] = load_qr_signing_key(_settings())
    return key


def qr_keyring() -> QrKeyring:
    """The signing key's public half and any further keys of WALLET_QR_PUBLIC_KEYS (rotation)."""
    ring = current_app.extensions.get(_EXTENSION + "_ring")
    if ring is None:
        key = qr_signing_key()
        keys = dict(load_public_key_file(path) for path in _settings().qr_public_key_paths)
        keys[key.key_id] = key.public_key_raw
        ring = current_app.extensions[_EXTENSION + "_ring"] = QrKeyring(keys)
    return ring


def roster_keys() -> list[dict[str, Any]]:
    """The public keys a terminal needs to check QR tokens offline (in its roster)."""
    return [{"keyId": kid, "alg": "EdDSA", "publicKey": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
            for kid, raw in sorted(qr_keyring().public_keys.items())]


@blueprint.post("/children/<child_id>/qr")
def issue(child_id: str) -> tuple[Response, int]:
    principal = authenticate_parent()
    body = load(QrRequest(), json_body())
    low, high = lifetime_bounds(_settings().qr_token_ttl_s)
    lifetime = body.get("lifetime_s")
    if lifetime is not None and not low <= lifetime <= high:
        raise ProblemError(422, "validation_failed", T_("Some fields are not valid."),
                           errors=[FieldError("lifetimeS", T_("must be %(low)s-%(high)s seconds",
                                                              low=low, high=high), "out_of_range")])
    key = qr_signing_key()
    session = session_scope.session()
    read_only(session)
    # Without accepted consent: 403 consent_required from the child lookup; nothing is read or logged.
    try:
        issued = issue_qr_token(session, parent_iin=principal.subject, child_id=_child_id(child_id),
                                meal_type=body["meal_type"], lifetime_s=lifetime, max_lifetime_s=high, key=key,
                                now=dt.datetime.now(dt.UTC), actor_role=principal.role)
    except ChildNotFound as exc:
        raise child_not_found_problem(exc) from None
    return jsonify(childId=child_id, token=issued.token, mealType=issued.meal_type,
                   notBefore=iso(issued.not_before), expiresAt=iso(issued.expires_at)), 201
