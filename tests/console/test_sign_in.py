"""Signing in with identity-provider tokens, the session cookie, CSRF, expiry, and the development page."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from api import create_app
from tests.console.conftest import csrf_of
from wallet.config import ConfigError, Settings, settings_from_env
from wallet.models import ConsoleSession


def test_sign_in_page_has_a_labelled_token_field_and_a_language(console):
    page = console.get("/console/sign-in", headers={"Accept-Language": "kk"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<html lang="kk">' in html and '<label for="token">' in html and 'id="token"' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_a_valid_token_signs_in_with_a_strict_httponly_cookie(console):
    response = console.sign_in("operator")
    assert response.status_code == 303 and response.headers["Location"].endswith("/console/reconciliation")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Expires=" in cookie
    token = console.token("operator")
    assert token not in cookie  # the session holds the checked identity, never the token
    assert console.get("/console/ledger").status_code == 200


@pytest.mark.parametrize("who,home", [("school_admin", "/console/schools/"), ("parent", "/console/parent"),
                                      ("auditor", "/console/reconciliation")])
def test_each_role_lands_on_its_home(console, who, home):
    response = console.sign_in(who)
    assert home in response.headers["Location"]


def test_bad_tokens_are_refused_with_the_reason_and_no_session(console):
    # The reason in the page's language (Russian by default; tests/unit/test_catalogs.py checks the catalogs).
    cases = {
        "not-a-jwt": "Токен — не корректный JWT",
        console.token("operator", exp=int(time.time()) - 3600): "истёк",
        console.token("operator", aud="someone-else"): "Токен отклонён",
    }
    for token, reason in cases.items():
        page = console.post("/console/sign-in", {"token": token})
        assert page.status_code == 401, token
        assert reason in page.get_data(as_text=True)
        assert console.get("/console/ledger").status_code == 303
    english = console.client.post("/console/sign-in", data={"csrf_token": console.csrf(), "token": "not-a-jwt"},
                                  headers={"Accept-Language": "en"})
    assert "not a well-formed JWT" in english.get_data(as_text=True)
    assert console.post("/console/sign-in", {"token": ""}).status_code == 422
    assert console.post("/console/sign-in", {"token": "x" * 9000}).status_code == 422


def test_a_token_of_another_issuer_key_is_refused(console):
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode({"sub": "op", "role": "operator", "iss": console.settings.idp_issuer,
                         "aud": console.settings.idp_audience, "iat": int(time.time()),
                         "exp": int(time.time()) + 600}, other, algorithm="ES256", headers={"kid": "dev-idp-1"})
    assert console.post("/console/sign-in", {"token": forged}).status_code == 401


def test_an_unknown_role_is_refused(console):
    page = console.post("/console/sign-in", {"token": console.token("operator", role="janitor")})
    assert page.status_code == 403


def test_a_post_without_the_session_csrf_token_is_refused(console):
    console.sign_in("operator")
    for data in ({}, {"csrf_token": "forged"}):
        response = console.client.post("/console/sign-out", data=data)
        assert response.status_code == 400 and "text/html" in response.content_type
    assert console.get("/console/ledger").status_code == 200  # still signed in
    sign_in = console.client.post("/console/sign-in", data={"token": console.token("operator")})
    assert sign_in.status_code == 400


def test_sign_out_ends_the_session(console):
    console.sign_in("operator")
    response = console.post("/console/sign-out", {}, page="/console/ledger")
    assert response.status_code == 303
    assert console.get("/console/ledger").status_code == 303


def test_sign_in_starts_a_new_session_and_csrf_token(console):
    before = console.csrf()
    console.sign_in("operator")
    assert console.csrf("/console/ledger") != before


def test_an_ended_session_goes_back_to_sign_in_and_returns_to_the_page(console):
    console.sign_in("operator")
    with console.client.application.extensions["wallet.session_factory"]() as db:  # the server's row ends
        db.execute(update(ConsoleSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.commit()
    response = console.get("/console/ledger?x=1")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "/console/sign-in" in location and "reason=expired" in location and "next=%2Fconsole%2Fledger" in location
    page = console.get(location)
    assert "session has ended" in page.get_data(as_text=True) or page.status_code == 200
    again = console.client.post("/console/sign-in", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                          "token": console.token("operator"),
                                                          "next": "/console/ledger?x=1"})
    assert again.headers["Location"] == "/console/ledger?x=1"


def test_the_session_never_outlives_the_token(console):
    console.sign_in("operator", exp=int(time.time()) + 120)
    assert session_end(console) <= time.time() + 121


def test_next_must_stay_inside_the_console(console):
    for target in ("https://evil.example/", "//evil.example/console/", "/api/v1/admin/terminals", "/console\\x"):
        response = console.sign_in("operator", next_url=target)
        assert response.headers["Location"] == "/console/reconciliation", target


def test_language_switch_is_kept_in_the_session(console):
    response = console.post("/console/language", {"lang": "en", "return_to": "/console/sign-in"})
    assert response.status_code == 303
    assert '<html lang="en">' in console.get("/console/sign-in").get_data(as_text=True)
    console.post("/console/language", {"lang": "xx", "return_to": "https://evil.example/"})
    assert '<html lang="en">' in console.get("/console/sign-in").get_data(as_text=True)


def test_dev_sign_in_picks_a_role_or_a_demo_parent(console):
    page = console.get("/console/dev-sign-in")
    assert page.status_code == 200
    csrf = csrf_of(page.get_data(as_text=True))
    response = console.client.post("/console/dev-sign-in", data={
        "csrf_token": csrf, "role": "school_admin", "school": console.world.school.bin})
    assert response.status_code == 303 and console.world.school.bin in response.headers["Location"]
    bad = console.client.post("/console/dev-sign-in", data={
        "csrf_token": console.csrf(), "role": "parent", "parent": "000000000000"})
    assert bad.status_code == 422


def test_dev_sign_in_tells_demo_parents_apart(console, session_factory):
    """Masked IINs alone look alike (demo IINs share their serial): each parent is numbered and described by
    their children and vouchers, in the page's language, the one with most children first."""
    import datetime as dt
    import re

    from tests.factories import an_iin
    from tests.parent_factories import link
    from wallet.identifiers import mask_iin

    world, parent = console.world, an_iin(dt.date(1979, 1, 2), female=False)
    with session_factory() as session:
        link(session, parent, world.eligible[0], "father")
        link(session, parent, world.eligible[1], "father")
        session.commit()
    html = console.get("/console/dev-sign-in", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert re.search(rf">\d+\. {re.escape(mask_iin(parent))}: 2 ребёнка<", html), html
    assert parent not in html.replace(f'value="{parent}"', "")  # shown masked; only the form's value is full


# --- production -----------------------------------------------------------------------------------------------


def _jwks_file(tmp_path: Path) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "prod-1", "alg": "ES256", "use": "sig"}]}))
    return str(path)


def _unused_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    from wallet.db import make_engine

    return make_engine(f"sqlite:///{tmp_path}/unused.db")


def test_production_refuses_the_console_without_a_secret_key(tmp_path):
    env = {"WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql+psycopg://x@y/z",
           "WALLET_SIGNING_KEY": str(tmp_path / "k.pem"), "WALLET_QR_SIGNING_KEY": str(tmp_path / "qr.pem"),
           "WALLET_IDP_JWKS": _jwks_file(tmp_path),
           "WALLET_IDP_ISSUER": "https://idp.example"}
    without = settings_from_env(env)  # the command line needs no console secret
    with pytest.raises(ConfigError, match="WALLET_SECRET_KEY"):
        create_app(without, engine=_unused_engine(tmp_path))
    with pytest.raises(ConfigError, match="at least 32"):
        settings_from_env({**env, "WALLET_SECRET_KEY": "short"})
    off = settings_from_env({**env, "WALLET_CONSOLE": "off"})
    assert off.console_enabled is False
    app = create_app(off, engine=_unused_engine(tmp_path))
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/console")]
    settings = settings_from_env({**env, "WALLET_SECRET_KEY": "s" * 40})
    assert "s" * 40 not in repr(settings)
    with pytest.raises(ConfigError, match="WALLET_SECRET_KEY"):
        create_app(Settings(environment="production", database_url=f"sqlite:///{tmp_path}/p.db",
                            instance_path=tmp_path, idp_jwks=env["WALLET_IDP_JWKS"],
                            qr_signing_key_path=tmp_path / "qr.pem"))


def test_production_has_no_development_sign_in(tmp_path):
    settings = Settings(environment="production", database_url=f"sqlite:///{tmp_path}/p.db", instance_path=tmp_path,
                        idp_jwks=_jwks_file(tmp_path), secret_key="p" * 48)
    app = create_app(settings)
    assert not [r for r in app.url_map.iter_rules() if "dev-sign-in" in r.rule]
    client = app.test_client()
    assert client.get("/console/dev-sign-in").status_code == 404
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert "dev-sign-in" not in page
    assert "Secure" in client.post("/console/language", data={"lang": "en"}).headers.get("Set-Cookie", "Secure")


def test_development_secret_is_kept_in_the_instance_folder(settings):
    from api.console import secret_key

    first = secret_key(settings)
    assert first == secret_key(settings) and len(first) >= 32
    path = Path(settings.instance_path) / "console-secret-key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_lifetime_is_bounded_by_the_configuration(console):
    assert console.settings.console_session_s == 1800
    console.sign_in("operator")
    assert session_end(console) <= dt.datetime.now(dt.UTC).timestamp() + 1801


def test_gunicorn_entry_point_refuses_with_one_line(tmp_path, monkeypatch, capsys):
    from api import wsgi
    from wallet.ledger.signing import SigningKey

    for name in [k for k in __import__("os").environ if k.startswith("WALLET_")]:
        monkeypatch.delenv(name)
    (tmp_path / "qr.pem").write_bytes(SigningKey.generate().to_pem())  # a good QR key: only the secret is missing
    for name, value in {"WALLET_ENV": "production", "WALLET_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                        "WALLET_SIGNING_KEY": str(tmp_path / "k.pem"),
                        "WALLET_QR_SIGNING_KEY": str(tmp_path / "qr.pem"), "WALLET_IDP_JWKS": _jwks_file(tmp_path),
                        "WALLET_IDP_ISSUER": "https://idp.example", "WALLET_INSTANCE_PATH": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        wsgi.build()
    assert exit_.value.code == wsgi.APP_LOAD_ERROR
    err = capsys.readouterr().err
    assert "WALLET_SECRET_KEY" in err and err.count("\n") == 1


def session_end(console) -> float:
    """When the (one) sign-in's row on the server ends, as a timestamp."""
    with console.client.application.extensions["wallet.session_factory"]() as db:
        (row,) = db.scalars(select(ConsoleSession)).all()
        return row.expires_at.timestamp()

