"""Where the identity provider's keys may come from: the keys decide whose tokens are believed, so production
takes them only over https from a named host (or from the operator's own file), and every other source is
refused when the settings are read, by the app however its settings were made, by gunicorn's start (one
line, exit 4) and by `wallet check-config` (one line, exit 3)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from api import create_app
from wallet.config import ConfigError, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
WALLET = Path(sys.executable).with_name("wallet")

# Sources refused in every environment: schemes other than http(s), URLs without a host or with a bad port,
# spaces and control characters (a value pasted with its newline).
REFUSED_EVERYWHERE = [
    "ftp://idp.example.kz/jwks.json", "file:///etc/wallet/jwks.json", "FILE:///etc/passwd",
    "data:application/json,{\"keys\":[]}", "ldap://idp.example.kz/jwks", "gopher://idp.example.kz/",
    "javascript:alert(1)", "https://", "https:///jwks.json", "https://:443/jwks.json", "http://",
    "https://idp.example.kz:99999/jwks", "https://idp.example.kz:port/jwks", "https://[::1/jwks",
    " https://idp.example.kz/jwks", "https://idp.example.kz/jwks\n", "https://idp.exa\x00mple.kz/jwks",
]
# Plain http: a local stand-in in development and tests; never in production, loopback included.
HTTP = ["http://idp.example.kz/.well-known/jwks.json", "HTTP://idp.example.kz/jwks", "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks", "http://[::1]:8080/jwks", "http://10.0.0.5/jwks"]
ACCEPTED_EVERYWHERE = ["https://idp.example.kz/.well-known/jwks.json", "HTTPS://idp.example.kz/jwks",
                       "https://127.0.0.1:8443/jwks", "/etc/wallet/idp-jwks.json", "idp-jwks.json"]


def production_env(jwks: str, **extra: str) -> dict[str, str]:
    return {"WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql+psycopg://app@db/wallet",
            "WALLET_SIGNING_KEY": "/keys/checkpoint.pem", "WALLET_QR_SIGNING_KEY": "/keys/qr.pem",
            "WALLET_IDP_ISSUER": "https://idp.example.kz", "WALLET_IDP_JWKS": jwks, **extra}


@pytest.mark.parametrize("jwks", REFUSED_EVERYWHERE + HTTP)
def test_production_refuses_every_jwks_source_but_https_and_files(jwks):
    with pytest.raises(ConfigError, match="WALLET_IDP_JWKS") as info:
        settings_from_env(production_env(jwks))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("jwks", REFUSED_EVERYWHERE)
def test_development_and_tests_refuse_other_schemes_and_hostless_urls(jwks):
    for environment in ("development", "test"):
        with pytest.raises(ConfigError, match="WALLET_IDP_JWKS"):
            settings_from_env({"WALLET_ENV": environment, "WALLET_IDP_JWKS": jwks})


@pytest.mark.parametrize("jwks", ACCEPTED_EVERYWHERE)
def test_https_urls_and_file_paths_are_accepted(jwks):
    assert settings_from_env(production_env(jwks)).idp_jwks == jwks
    assert settings_from_env({"WALLET_IDP_JWKS": jwks}).idp_jwks == jwks


@pytest.mark.parametrize("jwks", HTTP)
def test_plain_http_is_for_development_and_tests_only(jwks):
    for environment in ("development", "test"):
        assert settings_from_env({"WALLET_ENV": environment, "WALLET_IDP_JWKS": jwks}).idp_jwks == jwks


@pytest.mark.parametrize("jwks", ["http://127.0.0.1:8080/jwks", "ftp://idp.example.kz/jwks", "https:///jwks"])
def test_the_app_refuses_them_too_when_its_settings_are_made_in_code(settings, engine, jwks):
    production = dataclasses.replace(settings, environment="production", idp_jwks=jwks, secret_key="s" * 40)
    with pytest.raises(ConfigError, match="WALLET_IDP_JWKS"):
        create_app(production, engine=engine)


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"keys": "none"}', '{"keys": []}',
                                     '{"keys": [{"kty": "EC"}]}', "\udc80"])
def test_a_jwks_file_that_holds_no_usable_key_stops_the_start(settings, engine, tmp_path, content):
    path = tmp_path / "jwks.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError, match="WALLET_IDP_JWKS"):
        create_app(dataclasses.replace(settings, idp_jwks=str(path)), engine=engine)


@pytest.mark.parametrize("name", ["missing.json", "."])
def test_a_jwks_path_that_is_no_file_stops_the_start(settings, engine, tmp_path, name):
    with pytest.raises(ConfigError, match="WALLET_IDP_JWKS"):
        create_app(dataclasses.replace(settings, idp_jwks=str(tmp_path / name)), engine=engine)


def _jwks_file(tmp_path: Path) -> Path:
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    path = tmp_path / "idp-jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    return path


def _run(command: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "WALLET_INSTANCE_PATH": str(tmp_path), **env}
    return subprocess.run(command, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("jwks", ["http://127.0.0.1:8080/jwks", "http://idp.example.kz/jwks",
                                  "ftp://idp.example.kz/jwks", "https:///jwks.json"])
def test_wallet_check_config_says_so_and_fails(tmp_path, jwks):
    result = _run([str(WALLET), "check-config"], production_env(jwks), tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wallet: configuration error: WALLET_IDP_JWKS"), result.stderr


def test_wallet_check_config_names_an_accepted_source(tmp_path):
    jwks = str(_jwks_file(tmp_path))
    env = production_env(jwks, WALLET_DATABASE_URL=f"sqlite:///{tmp_path / 'wallet.sqlite3'}")
    result = _run([str(WALLET), "check-config"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"identity-provider keys from the file {jwks}" in result.stdout


def test_gunicorn_start_stops_with_one_line(tmp_path):
    """api.wsgi.build() is what gunicorn loads: exit status 4 (gunicorn halts) and one line, no traceback."""
    env = production_env("http://127.0.0.1:8080/jwks")
    result = _run([sys.executable, "-c", "from api.wsgi import build; build()"], env, tmp_path)
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "WALLET_IDP_JWKS" in lines[0] and "https" in lines[0], result.stderr
