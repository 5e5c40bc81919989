"""The terminal's own identity: an Ed25519 key made on the device (never sent anywhere), request tokens
signed with it, and UUIDv7 event ids."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TOKEN_LIFETIME = dt.timedelta(minutes=2)


# The service's test clock (wallet/clock.py), read under the same rule: only with WALLET_ENV=test, so that a
# test running the agent as a process over simulated days gives it and the service one time.
TEST_CLOCK_ENV = "WALLET_TEST_CLOCK_FILE"


def utcnow() -> dt.datetime:
    """The device clock. Everything in the agent reads the time here (tests move the clock by patching it,
    or, for an agent run as a process, with the test clock file)."""
    path = os.environ.get(TEST_CLOCK_ENV, "").strip()
    if path and os.environ.get("WALLET_ENV") == "test":
        text = Path(path).read_text(encoding="utf-8").strip()
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def create_key(path: Path) -> Ed25519PrivateKey:
    """Make a new private key file readable by its owner only; refuses to overwrite an existing key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def request_token(key: Ed25519PrivateKey, terminal_id: str, audience: str, now: dt.datetime | None = None) -> str:
    """A fresh token for one request: the service accepts each jti once."""
    now = now or utcnow()
    claims = {"iss": terminal_id, "sub": terminal_id, "aud": audience, "iat": now,
              "exp": now + TOKEN_LIFETIME, "jti": secrets.token_hex(16)}
    return jwt.encode(claims, key, algorithm="EdDSA")


def uuid7(now: dt.datetime | None = None) -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, random bits, variant 10."""
    ms = int((now or utcnow()).timestamp() * 1000)
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
