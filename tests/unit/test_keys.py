"""The checkpoint signing key: production refuses anything but a readable Ed25519 PEM file; development
makes one on first use, owner-readable only, and concurrent first uses agree on one key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from wallet.config import ConfigError, Settings
from wallet.keys import DEV_KEY_FILENAME, load_public_key_file, load_signing_key, public_keys_of
from wallet.ledger.signing import SigningKey


def _production(path: Path | None) -> Settings:
    return Settings(environment="production", database_url="postgresql://x@y/z", signing_key_path=path,
                    instance_path=Path("/nonexistent-instance"))


def _pem(private_key, password: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _assert_one_line(exc: pytest.ExceptionInfo[ConfigError]) -> None:
    message = str(exc.value)
    assert message and "\n" not in message


# --- production -------------------------------------------------------------------------------------


def test_production_loads_the_configured_key(tmp_path):
    key = SigningKey.generate()
    path = tmp_path / "signing.pem"
    path.write_bytes(key.to_pem())
    loaded = load_signing_key(_production(path))
    assert loaded.key_id == key.key_id
    assert public_keys_of(loaded) == {key.key_id: key.public_key_raw}


def test_production_without_a_key_path_refuses():
    with pytest.raises(ConfigError, match="WALLET_SIGNING_KEY") as exc:
        load_signing_key(_production(None))
    _assert_one_line(exc)


def test_production_never_makes_a_key(tmp_path):
    settings = Settings(environment="production", instance_path=tmp_path)
    with pytest.raises(ConfigError):
        load_signing_key(settings)
    assert list(tmp_path.iterdir()) == []


def test_production_missing_key_file(tmp_path):
    path = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match="does not exist") as exc:
        load_signing_key(_production(path))
    assert str(path) in str(exc.value)
    _assert_one_line(exc)


def test_production_unreadable_key_file(tmp_path):
    # A directory cannot be read as a file, even by root (for whom chmod 000 would not stop reading).
    with pytest.raises(ConfigError, match="cannot read") as exc:
        load_signing_key(_production(tmp_path))
    _assert_one_line(exc)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_production_key_file_without_read_permission(tmp_path):
    path = tmp_path / "signing.pem"
    path.write_bytes(SigningKey.generate().to_pem())
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read"):
        load_signing_key(_production(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "not an Ed25519"),
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "not an Ed25519"),
        (lambda: b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", "not an Ed25519"),
        (lambda: b"", "not an Ed25519"),
        (lambda: _pem(ed25519.Ed25519PrivateKey.generate(), b"secret"), "encrypted"),
        (lambda: b"x" * 100_000, "too large"),
    ],
    ids=["rsa", "ec", "garbage", "empty", "encrypted", "huge"],
)
def test_production_refuses_keys_that_are_not_plain_ed25519(tmp_path, content, message):
    path = tmp_path / "signing.pem"
    path.write_bytes(content())
    with pytest.raises(ConfigError, match=message) as exc:
        load_signing_key(_production(path))
    assert str(path) in str(exc.value)
    _assert_one_line(exc)


# --- development and tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_key_is_made_on_first_use_owner_only(tmp_path, environment):
    instance = tmp_path / "instance"
    settings = Settings(environment=environment, instance_path=instance)
    old_umask = os.umask(0)  # even a permissive umask must not widen the file's mode
    try:
        key = load_signing_key(settings)
    finally:
        os.umask(old_umask)
    path = instance / DEV_KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SigningKey.from_pem(path.read_bytes()).key_id == key.key_id
    assert load_signing_key(settings).key_id == key.key_id  # the same key next time
    assert sorted(p.name for p in instance.iterdir()) == [DEV_KEY_FILENAME]  # no temporary files left


def test_development_uses_a_configured_key_path(tmp_path):
    key = SigningKey.generate()
    path = tmp_path / "mine.pem"
    path.write_bytes(key.to_pem())
    settings = Settings(environment="development", instance_path=tmp_path / "instance", signing_key_path=path)
    assert load_signing_key(settings).key_id == key.key_id
    assert not (tmp_path / "instance").exists()


def test_development_with_a_broken_key_file_says_so(tmp_path):
    (tmp_path / DEV_KEY_FILENAME).write_bytes(b"not a key")
    with pytest.raises(ConfigError, match=DEV_KEY_FILENAME) as exc:
        load_signing_key(Settings(environment="development", instance_path=tmp_path))
    _assert_one_line(exc)
    assert (tmp_path / DEV_KEY_FILENAME).read_bytes() == b"not a key"  # never overwritten


def test_concurrent_first_use_in_threads_makes_one_key(tmp_path):
    settings = Settings(environment="development", instance_path=tmp_path / "instance")
    with ThreadPoolExecutor(max_workers=16) as pool:
        key_ids = set(pool.map(lambda _: load_signing_key(settings).key_id, range(64)))
    assert len(key_ids) == 1
    assert sorted(p.name for p in (tmp_path / "instance").iterdir()) == [DEV_KEY_FILENAME]


def test_concurrent_first_use_in_processes_makes_one_key(tmp_path):
    instance = tmp_path / "instance"
    script = (
        "import sys; from pathlib import Path; from wallet.config import Settings; "
        "from wallet.keys import load_signing_key; "
        "print(load_signing_key(Settings(environment='development', instance_path=Path(sys.argv[1]))).key_id)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(instance)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(outputs) == 1
    assert outputs == {SigningKey.from_pem((instance / DEV_KEY_FILENAME).read_bytes()).key_id}


# --- public keys for auditors -------------------------------------------------------------------------


def test_public_key_file_gives_key_id_and_raw_key(tmp_path):
    key = SigningKey.generate()
    public = serialization.load_pem_private_key(key.to_pem(), None).public_key()
    path = tmp_path / "key.pub.pem"
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert load_public_key_file(path) == (key.key_id, key.public_key_raw)


def test_public_key_file_must_be_ed25519(tmp_path):
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = tmp_path / "ec.pub.pem"
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError, match="not an Ed25519"):
        load_public_key_file(path)
    path.write_bytes(b"junk")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_key_file(path)
