"""Checking a scanned dynamic QR token offline, with the public keys from the roster.

The format is the service's (openapi.yaml, operation issueQrToken); this is an independent reading of it,
sharing no code with the service: unpadded base64url of a COSE_Sign1 message (CBOR tag 18) signed with
Ed25519, protected header {1: -8, 4: kid}, payload [1, tokenId, voucherId, schoolBin, mealType, notBefore,
expires]. The terminal learns the voucher id and nothing about the child.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_TOKEN_CHARS = 400
# The phone that made the QR code and this terminal may disagree a little about the time.
CLOCK_LEEWAY_S = 60
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_BIN = re.compile(r"[0-9]{12}")


class QrRefused(ValueError):
    """The token must not be served; `reason` is a short code, the message says why in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ScannedToken:
    token_id: uuid.UUID
    voucher_id: uuid.UUID
    school_bin: str
    meal_type: str
    not_before: int
    expires: int


def _forged(why: str) -> QrRefused:
    return QrRefused("forged", f"this QR code is not a valid meal token ({why})")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_keys(roster: dict[str, Any] | None) -> dict[bytes, Ed25519PublicKey]:
    """{kid: key} from the roster's qrKeys; entries that do not parse are skipped."""
    keys: dict[bytes, Ed25519PublicKey] = {}
    for entry in (roster or {}).get("qrKeys") or []:
        try:
            keys[bytes.fromhex(entry["keyId"])] = Ed25519PublicKey.from_public_bytes(_b64(entry["publicKey"]))
        except (KeyError, TypeError, ValueError, binascii.Error):
            continue
    return keys


def verify(text: str, keys: dict[bytes, Ed25519PublicKey]) -> ScannedToken:
    """The token's claims if it carries a good signature by one of `keys`; QrRefused("forged") otherwise."""
    text = text.strip()
    if not 0 < len(text) <= MAX_TOKEN_CHARS or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise _forged("not base64url text")
    try:
        raw = _b64(text)
        message = cbor2.loads(raw)
    except Exception:  # any decoding failure of scanned garbage is the same answer
        raise _forged("not CBOR") from None
    if not (isinstance(message, cbor2.CBORTag) and message.tag == 18 and isinstance(message.value, list | tuple)
            and len(message.value) == 4):
        raise _forged("not a COSE_Sign1 message")
    protected, unprotected, payload, signature = message.value
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)
            and unprotected == {}):
        raise _forged("not a COSE_Sign1 message")
    # The service accepts one spelling of a token only; so does the terminal, or it would serve a meal
    # that the service then refuses as invalid.
    if _text(raw) != text or cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])) != raw:
        raise _forged("not in the service's encoding")
    try:
        header = cbor2.loads(protected)
    except Exception:
        raise _forged("unreadable header") from None
    if not (isinstance(header, dict) and header.get(1) == -8 and isinstance(header.get(4), bytes)):
        raise _forged("not signed with EdDSA")
    key = keys.get(header[4])
    if key is None:
        raise _forged("signed by a key this terminal does not know: sync the roster")
    try:
        key.verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))
    except InvalidSignature:
        raise _forged("bad signature") from None
    try:
        claims = cbor2.loads(payload)
    except Exception:
        raise _forged("unreadable payload") from None
    if not (isinstance(claims, list | tuple) and len(claims) == 7 and claims[0] == 1):
        raise _forged("unknown token format")
    _, token_id, voucher_id, school_bin, meal_type, not_before, expires = claims
    if not (isinstance(token_id, bytes) and len(token_id) == 16 and isinstance(voucher_id, bytes)
            and len(voucher_id) == 16 and isinstance(school_bin, str) and _BIN.fullmatch(school_bin)
            and isinstance(meal_type, str) and type(not_before) is int and type(expires) is int):
        raise _forged("unknown token format")
    return ScannedToken(uuid.UUID(bytes=token_id), uuid.UUID(bytes=voucher_id), school_bin, meal_type,
                        not_before, expires)


def check(token: ScannedToken, *, school_bin: str, meal_type: str, now: dt.datetime) -> None:
    """Refuse a genuine token that cannot be served here and now (QrRefused with the reason)."""
    if token.school_bin != school_bin:
        raise QrRefused("other_school", "this QR code is for another school")
    if token.meal_type != meal_type:
        raise QrRefused("other_meal_type", f"this QR code is for {token.meal_type}, not {meal_type}")
    at = now.timestamp()
    if at > token.expires + CLOCK_LEEWAY_S:
        raise QrRefused("expired", "this QR code has expired: ask for a new one in the app")
    if at < token.not_before - CLOCK_LEEWAY_S:
        raise QrRefused("not_yet_valid", "this QR code is not valid yet: check the terminal's clock")
