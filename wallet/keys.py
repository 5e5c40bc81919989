"""The service's checkpoint signing key, and public keys for checking checkpoints.

Production reads the Ed25519 PEM file named by `WALLET_SIGNING_KEY` and refuses to start without a usable
one. Development and tests without a configured key use `instance/checkpoint-signing-key.pem`, created on
first use, readable by its owner only; the file is written completely under a temporary name and then
hard-linked into place, so concurrent first uses end with one key and nobody reads a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wallet.config import ConfigError, Settings
from wallet.ledger.signing import SigningKey, key_id_for

__all__ = [
    "DEV_KEY_FILENAME", "DEV_QR_KEY_FILENAME", "load_public_key_file", "load_qr_signing_key", "load_signing_key",
    "public_keys_of",
]

DEV_KEY_FILENAME = "checkpoint-signing-key.pem"
DEV_QR_KEY_FILENAME = "qr-signing-key.pem"
# A PEM private key is a few hundred bytes; refusing big files keeps a wrong path from being read whole.
_MAX_PEM_BYTES = 64 * 1024


def load_signing_key(settings: Settings) -> SigningKey:
    """The key that signs checkpoints; raises ConfigError (one line) when it cannot be used."""
    if settings.signing_key_path is not None:
        return _read_signing_key(Path(settings.signing_key_path), "WALLET_SIGNING_KEY")
    if settings.is_production:
        raise ConfigError("WALLET_SIGNING_KEY (an Ed25519 PEM file) is required in production")
    return _development_key(Path(settings.instance_path) / DEV_KEY_FILENAME)


def load_qr_signing_key(settings: Settings) -> SigningKey:
    """The key that signs dynamic QR tokens: a key of its own, under the same rules as the checkpoint key.

    A separate key because its public half goes to every terminal and it may be rotated often, while the
    checkpoint key vouches for years of history; neither can stand in for the other.
    """
    if settings.qr_signing_key_path is not None:
        return _read_signing_key(Path(settings.qr_signing_key_path), "WALLET_QR_SIGNING_KEY")
    if settings.is_production:
        raise ConfigError("WALLET_QR_SIGNING_KEY (an Ed25519 PEM file) is required in production")
    return _development_key(Path(settings.instance_path) / DEV_QR_KEY_FILENAME)


def public_keys_of(*keys: SigningKey) -> dict[str, bytes]:
    """The {key id: raw public key} map that `wallet.ledger.verify` takes."""
    return {key.key_id: key.public_key_raw for key in keys}


def public_key_pem(key: SigningKey) -> str:
    """The public half of a signing key as PEM (SubjectPublicKeyInfo), what `load_public_key_file` reads."""
    pem = Ed25519PublicKey.from_public_bytes(key.public_key_raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def load_public_key_file(path: Path) -> tuple[str, bytes]:
    """(key id, raw public key) from a PEM Ed25519 public key, for auditors who hold no private key."""
    pem = _read_pem(path, "public key")
    try:
        public_key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"public key {path} is not a PEM public key: {_first_line(exc)}") from exc
    if not isinstance(public_key, Ed25519PublicKey):
        raise ConfigError(f"public key {path} is not an Ed25519 key ({type(public_key).__name__})")
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id_for(raw), raw


def _read_signing_key(path: Path, what: str) -> SigningKey:
    pem = _read_pem(path, f"signing key {what}")
    try:
        return SigningKey.from_pem(pem)
    except TypeError as exc:
        # cryptography says "Password was not given but private key is encrypted".
        raise ConfigError(f"signing key {path} is encrypted; give an unencrypted PKCS#8 PEM file") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"signing key {path} is not an Ed25519 private key in PEM: {_first_line(exc)}") from exc


def _read_pem(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_PEM_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what}: file {path} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_PEM_BYTES:
        raise ConfigError(f"{what}: {path} is too large to be a PEM key")
    return data


def _development_key(path: Path) -> SigningKey:
    if not path.exists():
        _create_key_file(path)
    return _read_signing_key(path, "(development key)")


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` unless someone else gets there first; never overwrite, never half-write."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create the instance folder {path.parent}: {exc.strerror or exc}") from exc
    pem = SigningKey.generate().to_pem()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    try:
        # O_EXCL: a fresh file of our own; mode 0600 from the start, so the key is never readable by others
        # (the umask can only take bits away).
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        # Atomic, and fails if the key exists: the first writer wins, later ones use its key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot create the development signing key {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
