"""The QR signing key follows the checkpoint key's rules, and a bad one stops gunicorn's start."""

from __future__ import annotations

import pytest

from api import wsgi
from wallet.config import ConfigError, Settings
from wallet.keys import DEV_QR_KEY_FILENAME, load_qr_signing_key, load_signing_key


def test_production_needs_a_qr_key():
    with pytest.raises(ConfigError, match="WALLET_QR_SIGNING_KEY"):
        load_qr_signing_key(Settings(environment="production", database_url="postgresql://x@y/z"))


def test_development_makes_a_qr_key_of_its_own(tmp_path):
    settings = Settings(instance_path=tmp_path)
    qr = load_qr_signing_key(settings)
    assert (tmp_path / DEV_QR_KEY_FILENAME).stat().st_mode & 0o077 == 0
    assert qr.key_id != load_signing_key(settings).key_id
    assert load_qr_signing_key(settings).key_id == qr.key_id  # made once, then read


def test_a_bad_qr_key_file_stops_the_start(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "qr.pem"
    bad.write_text("not a key")
    monkeypatch.setenv("WALLET_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("WALLET_QR_SIGNING_KEY", str(bad))
    with pytest.raises(SystemExit) as stopped:
        wsgi.build()
    assert stopped.value.code == wsgi.APP_LOAD_ERROR
    assert "qr.pem" in capsys.readouterr().err
