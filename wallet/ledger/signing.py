"""Ed25519-signed checkpoints: a school chain's Merkle tree head, signed by the service.

A signed checkpoint is plain JSON:

    {"body": {...checkpoint_body...}, "signature": "<base64url, no padding>", "keyId": "<16 hex chars>"}

The signature covers `canonical_bytes(body)` (RFC 8785), so anyone can verify it with the raw 32-byte
public key and any JCS + Ed25519 implementation. The key signs only checkpoint bodies of a known format:
the `"format"` field inside the signed bytes keeps a checkpoint signature from being passed off as a
signature over any other kind of message.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wallet.ledger.canonical import MAX_SAFE_INTEGER, canonical_bytes
from wallet.ledger.merkle import HASH_SIZE

__all__ = [
    "CHECKPOINT_FORMAT",
    "KEY_ID_HEX_CHARS",
    "SigningKey",
    "checkpoint_body",
    "is_checkpoint_body",
    "key_id_for",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_FORMAT = "wallet-checkpoint/v1"
# The key id is the first 16 hex characters (64 bits) of SHA-256(raw public key). It only picks which key
# to try; security rests on the signature check, so a short, readable id is enough.
KEY_ID_HEX_CHARS = 16

_BODY_KEYS = frozenset({"format", "chainId", "treeSize", "rootHash", "chainHash", "issuedAt"})
_SIGNED_KEYS = frozenset({"body", "signature", "keyId"})
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_SIZE = 64
# 64 bytes in unpadded base64url are exactly 86 characters of the URL-safe alphabet.
_B64URL_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")
_PUBLIC_KEY_SIZE = 32


def key_id_for(public_key_raw: bytes) -> str:
    """First 16 hex chars of SHA-256 over the raw 32-byte Ed25519 public key."""
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != _PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {_PUBLIC_KEY_SIZE} raw bytes")
    return hashlib.sha256(public_key_raw).hexdigest()[:KEY_ID_HEX_CHARS]


class SigningKey:
    """An Ed25519 private key used to sign checkpoints."""

    __slots__ = ("_private_key",)

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("checkpoints are signed with Ed25519 keys only")
        self._private_key = private_key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> SigningKey:
        """Load a PEM private key (PKCS#8, optionally encrypted); anything but Ed25519 is refused."""
        private_key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"expected an Ed25519 private key, got {type(private_key).__name__}")
        return cls(private_key)

    def to_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with `password` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def public_key_raw(self) -> bytes:
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key_raw)

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        # Never show key material, not even by accident in a log line.
        return f"SigningKey(key_id={self.key_id})"


def checkpoint_body(
    chain_id: str, tree_size: int, root_hash: bytes, chain_hash: bytes, issued_at: str
) -> dict:
    """The body a checkpoint signs: the tree head and chain head of one school's chain at one moment.

    `issued_at` is an ISO 8601 / RFC 3339 timestamp with an offset, e.g. "2025-01-31T12:00:00Z".
    """
    for name, value in (("root_hash", root_hash), ("chain_hash", chain_hash)):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ValueError(f"{name} must be {HASH_SIZE} bytes")
    body = {
        "format": CHECKPOINT_FORMAT,
        "chainId": chain_id,
        "treeSize": tree_size,
        "rootHash": root_hash.hex(),
        "chainHash": chain_hash.hex(),
        "issuedAt": issued_at,
    }
    if not is_checkpoint_body(body):
        raise ValueError(
            "invalid checkpoint: chain_id must be a non-empty string, tree_size an integer in "
            f"[0, {MAX_SAFE_INTEGER}], issued_at an ISO 8601 timestamp with an offset"
        )
    return body


def is_checkpoint_body(body: Any) -> bool:
    """Is `body` exactly a `wallet-checkpoint/v1` body (same keys, well-formed values)?"""
    if not isinstance(body, dict) or body.keys() != _BODY_KEYS:
        return False
    tree_size = body["treeSize"]
    return (
        body["format"] == CHECKPOINT_FORMAT
        and _is_nonempty_text(body["chainId"])
        and isinstance(tree_size, int)
        and not isinstance(tree_size, bool)
        and 0 <= tree_size <= MAX_SAFE_INTEGER
        and _is_hex_hash(body["rootHash"])
        and _is_hex_hash(body["chainHash"])
        and _is_timestamp(body["issuedAt"])
    )


def sign_checkpoint(body: dict, key: SigningKey) -> dict:
    """Sign a checkpoint body; the result is JSON-ready. Raises ValueError if `body` is not a checkpoint."""
    if not is_checkpoint_body(body):
        raise ValueError(f"not a {CHECKPOINT_FORMAT} checkpoint body; build it with checkpoint_body()")
    # Copy so that later changes to the caller's dict cannot silently break the signed result.
    body = copy.deepcopy(body)
    signature = key.sign(canonical_bytes(body))
    return {"body": body, "signature": _b64url_encode(signature), "keyId": key.key_id}


def verify_checkpoint(signed: Any, public_key_raw: Any) -> bool:
    """Is `signed` a well-formed checkpoint signed by the key `public_key_raw`? Never raises."""
    if not isinstance(signed, dict) or signed.keys() != _SIGNED_KEYS:
        return False  # extra, unsigned fields next to signed ones would mislead a reader
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != _PUBLIC_KEY_SIZE:
        return False
    if signed["keyId"] != key_id_for(public_key_raw) or not is_checkpoint_body(signed["body"]):
        return False
    signature = _b64url_decode_signature(signed["signature"])
    if signature is None:
        return False
    try:
        public_key = Ed25519PublicKey.from_public_bytes(public_key_raw)
        public_key.verify(signature, canonical_bytes(signed["body"]))
    except (InvalidSignature, ValueError):
        # ValueError: a public key that is not a valid curve point, or a body string with a lone surrogate.
        return False
    return True


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode_signature(text: Any) -> bytes | None:
    # Strict decoding: the stdlib decoder tolerates padding and odd trailing bits, which would let many
    # strings stand for one signature. Accept only the one encoding we produce.
    if not isinstance(text, str) or not _B64URL_SIGNATURE.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _SIGNATURE_SIZE or _b64url_encode(raw) != text:
        return None
    return raw


def _is_nonempty_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_hex_hash(value: Any) -> bool:
    # Lowercase only, so one hash has one spelling in signed JSON.
    return isinstance(value, str) and _HEX_HASH.fullmatch(value) is not None


def _is_timestamp(value: Any) -> bool:
    if not _is_nonempty_text(value):
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    # A timestamp without an offset means different instants to different readers.
    return parsed.tzinfo is not None
