"""Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, signature type 0x04, `cosignature/v1`).

The signature is over `cosignature/v1\\ntime <t>\\n` followed by the checkpoint text, and the line carries
`keyid || u64 big-endian timestamp || 64-byte signature`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.note import NoteError, Signature, Verifier, check_key_name, format_signature_line

__all__ = ["COSIGNATURE_V1", "Cosigner", "cosigned_message", "cosigner_verifier", "verify_cosignature"]

COSIGNATURE_V1 = 0x04
_MAX_TIMESTAMP = 2**63 - 1


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


def cosigner_verifier(name: str, public_key: bytes) -> Verifier:
    return Verifier.ed25519(name, public_key, sig_type=COSIGNATURE_V1)


@dataclass(frozen=True)
class VerifiedCosignature:
    name: str
    key_id: bytes
    timestamp: int
    line: str


def verify_cosignature(checkpoint_text: str, sig: Signature, verifier: Verifier) -> VerifiedCosignature:
    """Check one cosignature line from `verifier` (which must be a 0x04 key); NoteError if it fails."""
    if verifier.sig_type != COSIGNATURE_V1 or not verifier.matches(sig):
        raise NoteError("not a cosignature of this key")
    if len(sig.signature) != 8 + 64:
        raise NoteError("an Ed25519 cosignature holds a timestamp and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp == 0 or timestamp > _MAX_TIMESTAMP:
        raise NoteError("a cosignature timestamp is between 1 and 2^63-1")
    if not verifier.verify(cosigned_message(checkpoint_text, timestamp), sig.signature[8:]):
        raise NoteError(f"the cosignature of {sig.name} does not verify")
    return VerifiedCosignature(sig.name, sig.key_id, timestamp, sig.line())


class Cosigner:
    """A witness key: names itself and signs `cosignature/v1` statements over checkpoint texts."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._key = private_key
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.verifier = cosigner_verifier(name, public)

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise NoteError("a cosignature timestamp is between 1 and 2^63-1")
        signature = self._key.sign(cosigned_message(checkpoint_text, timestamp))
        return format_signature_line(self.name, self.verifier.key_id, struct.pack(">Q", timestamp) + signature)

    def __repr__(self) -> str:
        return f"Cosigner({self.verifier.vkey()})"
