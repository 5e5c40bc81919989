"""The witness's directory: its key (witness.pem), its settings (witness.json) and its state (logs/).

witness.json: {"name": "<cosigner name>", "logs": {"<origin>": ["<log vkey>", ...]}}. The witness
trusts only the logs listed there, each by the verifier keys its operator published.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.cosignature import Cosigner
from tlog.note import NoteError, Verifier, check_key_name, parse_vkey

__all__ = ["WitnessConfig", "add_log", "init_dir", "load"]

KEY_FILE = "witness.pem"
CONFIG_FILE = "witness.json"


class ConfigError(RuntimeError):
    """A witness directory that cannot work; one line for the operator."""


@dataclass(frozen=True)
class WitnessConfig:
    directory: Path
    cosigner: Cosigner
    logs: dict[str, tuple[Verifier, ...]]


def init_dir(directory: Path, name: str) -> Cosigner:
    """Make a new witness directory with a fresh key; refuses to overwrite an existing key."""
    try:
        check_key_name(name)
    except NoteError as exc:
        raise ConfigError(f"witness name: {exc}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / KEY_FILE
    if key_path.exists():
        raise ConfigError(f"{key_path} exists: a witness keeps its key for life")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    _write_config(directory, {"name": name, "logs": {}})
    return Cosigner(name, key)


def add_log(directory: Path, origin: str, vkey: str) -> None:
    if not origin or any(c.isspace() for c in origin):
        raise ConfigError("an origin is non-empty and holds no spaces")
    try:
        parse_vkey(vkey)
    except NoteError as exc:
        raise ConfigError(f"log key: {exc}") from exc
    data = _read_config(directory)
    keys = data["logs"].setdefault(origin, [])
    if vkey not in keys:
        keys.append(vkey)
    _write_config(directory, data)


def load(directory: Path) -> WitnessConfig:
    data = _read_config(directory)
    try:
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {directory / KEY_FILE}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("the witness key must be Ed25519")
    try:
        logs = {origin: tuple(parse_vkey(v) for v in vkeys) for origin, vkeys in data["logs"].items()}
        cosigner = Cosigner(data["name"], key)
    except (NoteError, KeyError, TypeError) as exc:
        raise ConfigError(f"{directory / CONFIG_FILE}: {exc}") from exc
    return WitnessConfig(directory, cosigner, logs)


def _read_config(directory: Path) -> dict:
    try:
        data = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {directory / CONFIG_FILE}: {exc}; run `wallet-witness init`") from exc
    if not isinstance(data, dict) or not isinstance(data.get("logs"), dict):
        raise ConfigError(f"{directory / CONFIG_FILE} is not a witness configuration")
    return data


def _write_config(directory: Path, data: dict) -> None:
    tmp = directory / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, directory / CONFIG_FILE)
