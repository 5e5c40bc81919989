"""C2SP signed notes (c2sp.org/signed-note@v1.0.0) with Ed25519 keys (signature type 0x01).

A note is text ending in a newline, a blank line, then signature lines `— <name> base64(keyid || sig)`.
Verification follows the spec: unknown keys are ignored, a known key (name and id both match) whose
signature fails rejects the whole note, and a note with no verified known signature is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "NoteError",
    "NoteSigner",
    "Signature",
    "Verifier",
    "format_signature_line",
    "join",
    "key_id",
    "parse_vkey",
    "split",
    "std_b64decode",
]

ED25519 = 0x01
SIGNATURE_DASH = "\u2014 "
# The spec asks verifiers to accept at least 16 signatures; a bound keeps a hostile note small.
MAX_SIGNATURES = 64
MAX_NOTE_BYTES = 64 * 1024
_NAME = re.compile(r"[^\s+]+")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class NoteError(ValueError):
    """Malformed note text or signature line, or a note that no trusted key verifies."""


def std_b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): one spelling per value, padding required."""
    if not _B64.fullmatch(text) or len(text) % 4:
        raise NoteError("not standard base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("not standard base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise NoteError("not canonical base64")
    return raw


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], the recommended key id."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise NoteError("a key name is non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # the bytes after the key id

    def line(self) -> str:
        return format_signature_line(self.name, self.key_id, self.signature)


def format_signature_line(name: str, kid: bytes, signature: bytes) -> str:
    return f"{SIGNATURE_DASH}{name} {base64.b64encode(kid + signature).decode()}\n"


def parse_signature_line(line: str) -> Signature:
    """One line without its newline."""
    if not line.startswith(SIGNATURE_DASH):
        raise NoteError("a signature line begins with an em dash and a space")
    parts = line[len(SIGNATURE_DASH):].split(" ")
    if len(parts) != 2:
        raise NoteError("a signature line is '— <name> <base64>'")
    name, b64 = parts
    check_key_name(name)
    raw = std_b64decode(b64)
    if len(raw) < 5:
        raise NoteError("a signature holds a 4-byte key id and a signature")
    return Signature(name, raw[:4], raw[4:])


def split(note: bytes | str) -> tuple[str, list[Signature]]:
    """(text, signatures) of a signed note; raises NoteError on anything malformed."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError("note too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note is UTF-8") from exc
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note holds no control characters but newline")
    if not note.endswith("\n"):
        raise NoteError("a note ends in a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a note has a blank line before its signatures")
    text, sig_block = note[: cut + 1], note[cut + 2:]
    lines = sig_block.split("\n")[:-1]
    if not lines:
        raise NoteError("a note has at least one signature")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    return text, [parse_signature_line(line) for line in lines]


def join(text: str, signature_lines: list[str]) -> str:
    if not text.endswith("\n"):
        raise NoteError("note text ends in a newline")
    return text + "\n" + "".join(signature_lines)


@dataclass(frozen=True)
class Verifier:
    """A trusted key: name, id, and a function checking a signature over a message."""

    name: str
    key_id: bytes
    public_key: bytes
    sig_type: int = ED25519

    @classmethod
    def ed25519(cls, name: str, public_key: bytes, sig_type: int = ED25519) -> Verifier:
        check_key_name(name)
        if len(public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        return cls(name, key_id(name, sig_type, public_key), public_key, sig_type)

    def vkey(self) -> str:
        """`<name>+<hex id>+base64(type || key)`, the spec's verifier key text."""
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()}"

    def matches(self, sig: Signature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """A verifier key `<name>+<hex id>+<base64(type || key)>`; the id must match the key (no pinning of a
    different id by mistake)."""
    parts = vkey.strip().split("+", 2)  # base64 may hold "+" too
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
    name, hex_id, b64 = parts
    check_key_name(name)
    raw = std_b64decode(b64)
    if len(raw) != 33:
        raise NoteError("an Ed25519 verifier key holds a type byte and 32 key bytes")
    verifier = Verifier.ed25519(name, raw[1:], sig_type=raw[0])
    if verifier.key_id.hex() != hex_id.lower() or len(hex_id) != 8:
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier


def verify(note: bytes | str, verifiers: list[Verifier]) -> tuple[str, list[Signature]]:
    """(text, verified signatures) of an Ed25519 (type 0x01) note; NoteError if none verifies or one of a
    known key fails."""
    text, sigs = split(note)
    verified = []
    for sig in sigs:
        for verifier in verifiers:
            if verifier.sig_type == ED25519 and verifier.matches(sig):
                if not verifier.verify(text.encode(), sig.signature):
                    raise NoteError(f"the signature of known key {sig.name} does not verify")
                verified.append(sig)
    if not verified:
        raise NoteError("no signature of a trusted key")
    return text, verified


class NoteSigner:
    """An Ed25519 private key with a key name, signing note texts (type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._key = private_key
        self.verifier = Verifier.ed25519(name, self.public_key)

    @property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign_line(self, text: str) -> str:
        if not text.endswith("\n"):
            raise NoteError("note text ends in a newline")
        return format_signature_line(self.name, self.verifier.key_id, self._key.sign(text.encode()))

    def sign(self, text: str) -> str:
        return join(text, [self.sign_line(text)])

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.vkey()})"
