"""Parents' identity-provider tokens: every way a token can be wrong is a 401 problem; keys come from a JWKS
file or URL, and a URL's keys rotate by `kid` (fetched again for a new kid, withdrawn keys stop working)."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api import create_app
from api.auth import dev_idp
from api.auth.idp import KeySource
from tests.api.contract import assert_conforms
from tests.parent_factories import PARENT_IIN, assert_problem, parent_fixture  # noqa: F401

URL = "/api/v1/parent/children"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(settings, **overrides):
    now = dt.datetime.now(dt.UTC)
    body = {"iss": settings.idp_issuer, "aud": settings.idp_audience, "sub": PARENT_IIN, "role": "parent",
            "iat": now, "nbf": now, "exp": now + dt.timedelta(minutes=10), "jti": uuid.uuid4().hex}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def dev_token(settings, **overrides) -> str:
    return jwt.encode(claims(settings, **overrides), dev_idp.private_key(settings), algorithm="ES256",
                      headers={"kid": dev_idp.KID})


def get(checked, token: str):
    return checked.get(URL, headers={"Authorization": f"Bearer {token}"})


def assert_401(response, code: str = "invalid_token") -> dict:
    body = assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


def test_a_valid_token_is_accepted(checked, settings, parent):
    assert get(checked, dev_token(settings)).status_code == 200


def test_missing_and_malformed_tokens(checked, settings, world):
    assert_401(checked.get(URL), "unauthorized")
    assert_401(checked.get(URL, headers={"Authorization": "Basic dXNlcjpwYXNz"}), "unauthorized")
    assert_401(get(checked, "not-a-jwt"))
    assert_401(get(checked, "a.b.c"))
    assert_401(get(checked, "x" * 9000))


def test_expired_token(checked, settings, world):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    token = dev_token(settings, iat=past, nbf=past, exp=past + dt.timedelta(minutes=10))
    assert_401(get(checked, token), "token_expired")


def test_token_not_yet_valid(checked, settings, world):
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    assert_401(get(checked, dev_token(settings, nbf=future, iat=future, exp=future + dt.timedelta(hours=1))))


def test_token_signed_by_another_key(checked, settings, world):
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(settings), stranger, algorithm="ES256", headers={"kid": dev_idp.KID})
    assert_401(get(checked, token))


def test_token_with_a_changed_payload(checked, settings, world):
    header, payload, signature = dev_token(settings).split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed["sub"] = "010101500008"
    assert_401(get(checked, f"{header}.{b64(json.dumps(changed).encode())}.{signature}"))


@pytest.mark.parametrize("override", [{"iss": "https://evil.example"}, {"aud": "someone-else"},
                                      {"aud": None}, {"exp": None}, {"sub": "not-an-iin"},
                                      {"role": "operator"}])
def test_wrong_issuer_audience_or_claims(checked, settings, world, override):
    assert_401(get(checked, dev_token(settings, **override)))


def test_alg_none_is_refused(checked, settings, world):
    body = json.dumps(claims(settings), default=lambda d: int(d.timestamp())).encode()
    for alg in ("none", "None", "NONE"):
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": dev_idp.KID}).encode())
        assert_401(get(checked, f"{header}.{b64(body)}."))


def test_hs256_signed_with_the_public_key_is_refused(checked, settings, world):
    """The classic key-confusion attack: HMAC with the provider's public key as the shared secret."""
    public_pem = dev_idp.private_key(settings).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_jwk = json.dumps(dev_idp.jwks(settings)["keys"][0]).encode()
    body = b64(json.dumps(claims(settings), default=lambda d: int(d.timestamp())).encode())
    for secret in (public_pem, public_jwk):
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": dev_idp.KID}).encode())
        signature = b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
        assert_401(get(checked, f"{header}.{body}.{signature}"))


def test_unknown_or_missing_kid(checked, settings, world):
    token = jwt.encode(claims(settings), dev_idp.private_key(settings), algorithm="ES256",
                       headers={"kid": "retired-key"})
    assert_401(get(checked, token))
    token = jwt.encode(claims(settings), dev_idp.private_key(settings), algorithm="ES256")
    assert_401(get(checked, token))


def test_algorithm_must_match_the_key(checked, settings, world):
    """A key published for ES256 cannot verify a token that claims another allowed algorithm."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(settings), rsa_key, algorithm="RS256", headers={"kid": dev_idp.KID})
    assert_401(get(checked, token))


# --- JWKS from a file and from a URL ------------------------------------------------------------------------------


def rsa_jwk(key, kid: str) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def idp_settings(settings, jwks: str):
    from dataclasses import replace

    return replace(settings, idp_jwks=jwks, idp_issuer="https://idp.example.kz", idp_audience="social-wallet")


def rs_token(settings, key, kid: str, **overrides) -> str:
    return jwt.encode(claims(settings, **overrides), key, algorithm="RS256", headers={"kid": kid})


def checked_client(app):
    client = app.test_client()

    def call(url, token):
        from werkzeug.test import EnvironBuilder

        headers = {"Authorization": f"Bearer {token}"}
        response = client.get(url, headers=headers)
        assert_conforms(response, EnvironBuilder(url, headers=headers).get_request())
        return response

    return call


def test_keys_from_a_jwks_file(settings, engine, tmp_path, world):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk(key, "file-1")]}))
    app_settings = idp_settings(settings, str(path))
    call = checked_client(create_app(app_settings, engine=engine))
    assert call(URL, rs_token(app_settings, key, "file-1")).status_code == 200
    assert_401(call(URL, rs_token(app_settings, key, "file-2")))
    assert_401(call(URL, dev_token(settings)))  # the development provider is off once a JWKS is configured


class JwksServer:
    """A tiny identity provider's JWKS endpoint on 127.0.0.1 whose key set the test can rotate."""

    def __init__(self) -> None:
        self.document: dict = {"keys": []}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server():
    server = JwksServer()
    yield server
    server.stop()


def test_jwks_url_is_cached_and_rotates_by_kid(settings, engine, world, jwks_server, monkeypatch):
    monkeypatch.setattr(KeySource, "REFRESH_COOLDOWN_S", 0.3)
    old, new = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwks_server.document = {"keys": [rsa_jwk(old, "2026-01")]}
    app_settings = idp_settings(settings, jwks_server.url)
    call = checked_client(create_app(app_settings, engine=engine))

    assert call(URL, rs_token(app_settings, old, "2026-01")).status_code == 200
    assert call(URL, rs_token(app_settings, old, "2026-01")).status_code == 200
    assert jwks_server.fetches == 1  # cached

    # Made-up kids do not make the service hammer the provider: one refetch per cooldown at most.
    for _ in range(5):
        assert_401(call(URL, rs_token(app_settings, old, f"bogus-{uuid.uuid4().hex[:6]}")))
    assert jwks_server.fetches <= 2

    # The provider rotates: a new key appears and the old one is withdrawn.
    jwks_server.document = {"keys": [rsa_jwk(new, "2026-02")]}
    time.sleep(0.35)
    fetched = jwks_server.fetches
    assert call(URL, rs_token(app_settings, new, "2026-02")).status_code == 200
    assert jwks_server.fetches == fetched + 1
    # The withdrawn key is refused now that the set was fetched again (no separate per-key cache).
    assert_401(call(URL, rs_token(app_settings, old, "2026-01")))
    assert call(URL, rs_token(app_settings, new, "2026-02")).status_code == 200


def test_jwks_url_unreachable_is_503_not_401(settings, engine, world):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_settings = idp_settings(settings, f"http://127.0.0.1:{port}/jwks.json")
    call = checked_client(create_app(app_settings, engine=engine))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = call(URL, rs_token(app_settings, key, "k1"))
    assert_problem(response, 503, "idp_unavailable")
    assert response.headers["Retry-After"] == "5"


# --- verified tokens are remembered briefly --------------------------------------------------------------------


def test_a_token_is_verified_once_and_then_served_from_memory(checked, settings, parent, monkeypatch):
    from api.auth import idp

    calls = []
    real = idp._verify
    monkeypatch.setattr(idp, "_verify", lambda token: calls.append(token) or real(token))
    token = dev_token(settings)
    for _ in range(3):
        assert get(checked, token).status_code == 200
    assert len(calls) == 1
    assert get(checked, dev_token(settings)).status_code == 200  # another token is verified on its own
    assert len(calls) == 2


def test_remembered_tokens_never_outlive_their_exp_or_the_ttl(monkeypatch):
    from api.auth.idp import LEEWAY_S, VerifiedTokens

    cache = VerifiedTokens()
    now = time.time()
    cache.put("expired", {"exp": now - LEEWAY_S - 1, "sub": "x"})
    cache.put("fresh", {"exp": now + 600, "sub": "y"})
    cache.put("no-exp", {"sub": "z"})
    assert cache.get("expired") is None and cache.get("no-exp") is None
    assert cache.get("fresh") == {"exp": now + 600, "sub": "y"}
    monkeypatch.setattr(time, "time", lambda: now + VerifiedTokens.TTL_S + 1)
    assert cache.get("fresh") is None


def test_refused_tokens_are_not_remembered(checked, settings, world, monkeypatch):
    from api.auth import idp

    calls = []
    real = idp._verify
    monkeypatch.setattr(idp, "_verify", lambda token: calls.append(token) or real(token))
    token = dev_token(settings, aud="someone-else")
    for _ in range(2):
        assert_401(get(checked, token))
    assert len(calls) == 2
