"""The dynamic QR token: a COSE_Sign1 message (RFC 9052) signed with Ed25519, in unpadded base64url.

    token   = base64url( CBOR tag 18 [ protected, {}, payload, signature ] )
    protected = bstr .cbor { 1: -8 (EdDSA), 4: kid (8 bytes: first 8 bytes of SHA-256 of the public key) }
    payload   = bstr .cbor [ 1 (format), tokenId (16 bytes), voucherId (16 bytes), schoolBin (text, 12 digits),
                             mealType (text), notBefore (uint, Unix seconds), expires (uint, Unix seconds) ]
    signature = Ed25519 over Sig_structure1 = CBOR [ "Signature1", protected, h'', payload ]

Nothing in it names the child: the voucher id is opaque, and the child's ground for free meals stays in
the service. 150-154 bytes, 200-206 characters: a version-10 QR code at error-correction level M.

The CBOR is encoded with cbor2 and the signature is cryptography's Ed25519; only the COSE framing is
written here (a handful of lines). Decoding is strict: the text must be exactly the encoding this module
makes (re-encoding the decoded value must give the same bytes), so one token has one spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wallet.ledger.signing import SigningKey

__all__ = [
    "MAX_TOKEN_CHARS", "QrClaims", "QrKeyring", "QrTokenError", "decode_token", "encode_token", "kid_for",
]

FORMAT_VERSION = 1
COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HEADER_ALG, HEADER_KID = 1, 4
KID_BYTES = 8
# A real token is ~200 characters; anything much longer is refused before it is decoded.
MAX_TOKEN_CHARS = 400
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_BIN = re.compile(r"[0-9]{12}")
_MEAL_TYPES = ("breakfast", "lunch", "snack")
_UINT32 = 2**32


class QrTokenError(ValueError):
    """The token is not one this service signed: undecodable, unknown key, or a bad signature."""


@dataclass(frozen=True)
class QrClaims:
    token_id: uuid.UUID
    voucher_id: uuid.UUID
    school_bin: str
    meal_type: str
    not_before: int  # Unix seconds
    expires: int
    key_id: str  # 16 hex characters, as wallet.ledger.signing.key_id_for


def kid_for(public_key_raw: bytes) -> bytes:
    """The COSE key id: the first 8 bytes of SHA-256(raw public key), i.e. the checkpoint-style key id."""
    return hashlib.sha256(public_key_raw).digest()[:KID_BYTES]


class QrKeyring:
    """Public keys that may have signed QR tokens, by key id; the key objects are built once."""

    def __init__(self, public_keys: Mapping[str, bytes]) -> None:
        self._keys = {bytes.fromhex(kid): Ed25519PublicKey.from_public_bytes(raw) for kid, raw in public_keys.items()}
        self.public_keys = dict(public_keys)

    def get(self, kid: bytes) -> Ed25519PublicKey | None:
        return self._keys.get(kid)


def _protected(kid: bytes) -> bytes:
    return cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: kid})


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_token(claims: QrClaims, key: SigningKey) -> str:
    """Sign the claims with `key` (claims.key_id is ignored: the key's own id is used)."""
    if claims.meal_type not in _MEAL_TYPES or not _BIN.fullmatch(claims.school_bin):
        raise ValueError("a QR token needs a known meal type and a 12-digit school BIN")
    if not 0 <= claims.not_before < claims.expires < _UINT32:
        raise ValueError("a QR token needs 0 <= notBefore < expires < 2**32")
    protected = _protected(kid_for(key.public_key_raw))
    payload = cbor2.dumps([FORMAT_VERSION, claims.token_id.bytes, claims.voucher_id.bytes, claims.school_bin,
                           claims.meal_type, claims.not_before, claims.expires])
    signature = key.sign(_to_be_signed(protected, payload))
    raw = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(text: Any, keyring: QrKeyring) -> QrClaims:
    """The verified claims of a token; QrTokenError when it is malformed, of an unknown key, or forged.

    Times, school and meal type are not judged here: that is the caller's business (a well-signed but
    expired token is a fact to record, not garbage).
    """
    raw = _unbase64(text)
    message = _loads(raw)
    if not (isinstance(message, cbor2.CBORTag) and message.tag == COSE_SIGN1_TAG):
        raise QrTokenError("not a COSE_Sign1 message")
    parts = message.value
    if not (isinstance(parts, list | tuple) and len(parts) == 4):
        raise QrTokenError("not a COSE_Sign1 message")
    protected, unprotected, payload, signature = parts
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)
            and unprotected == {} and len(signature) == 64):
        raise QrTokenError("not a COSE_Sign1 message")
    if cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])) != raw:
        raise QrTokenError("not in the one encoding this service makes")
    header = _loads(protected)
    if not (isinstance(header, dict) and set(header) == {HEADER_ALG, HEADER_KID}
            and header[HEADER_ALG] == ALG_EDDSA and isinstance(header[HEADER_KID], bytes)
            and protected == _protected(header[HEADER_KID])):
        raise QrTokenError("the protected header is not EdDSA with a key id")
    kid = header[HEADER_KID]
    public_key = keyring.get(kid)
    if public_key is None:
        raise QrTokenError("signed by an unknown key")
    try:
        public_key.verify(signature, _to_be_signed(protected, payload))
    except InvalidSignature:
        raise QrTokenError("the signature does not verify") from None
    return _claims(_loads(payload), kid)


def _unbase64(text: Any) -> bytes:
    if not isinstance(text, str) or not 0 < len(text) <= MAX_TOKEN_CHARS or not _B64URL.fullmatch(text):
        raise QrTokenError("not unpadded base64url text of a sensible length")
    if len(text) % 4 == 1:
        raise QrTokenError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise QrTokenError("not base64url") from None
    # Unused trailing bits must be zero, so that one token has exactly one text.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise QrTokenError("not canonical base64url")
    return raw


def _loads(raw: bytes) -> Any:
    try:
        return cbor2.loads(raw)
    except Exception:  # cbor2 raises many kinds on garbage; all mean "not a token"
        raise QrTokenError("not CBOR") from None


def _claims(payload: Any, kid: bytes) -> QrClaims:
    if not (isinstance(payload, list | tuple) and len(payload) == 7 and payload[0] == FORMAT_VERSION):
        raise QrTokenError("the payload is not a QR token of a known format")
    _, token_id, voucher_id, school_bin, meal_type, not_before, expires = payload
    if not (isinstance(token_id, bytes) and len(token_id) == 16 and isinstance(voucher_id, bytes)
            and len(voucher_id) == 16 and isinstance(school_bin, str) and _BIN.fullmatch(school_bin)
            and meal_type in _MEAL_TYPES and type(not_before) is int and type(expires) is int
            and 0 <= not_before < expires < _UINT32):
        raise QrTokenError("the payload is not a QR token of a known format")
    return QrClaims(token_id=uuid.UUID(bytes=token_id), voucher_id=uuid.UUID(bytes=voucher_id),
                    school_bin=school_bin, meal_type=meal_type, not_before=not_before, expires=expires,
                    key_id=kid.hex())
