"""Token confusion across audiences, on every route: a terminal's token on parent and staff routes, identity-
provider tokens on terminal routes, a parent's on staff routes and staff's on parent routes; and, on every
identity-provider route, alg none, HS256 signed with the provider's public key, an RSA key claimed for the
provider's EC key id, the wrong audience or issuer, an expired token, and a token minted for the terminals'
audience.

Terminal-token negatives (alg none, HS/Ed confusion, expiry, lifetime, replayed jti, ...) are in
tests/api/test_terminal_auth.py and parents' in tests/api/test_parent_auth.py (on one route each); this file
crosses audiences and covers every route.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import dev_idp
from tests.factories import AUDIENCE
from tests.parent_factories import PARENT_IIN
from tests.security.routes import ROUTES, send

AUTHENTICATED = [r for r in ROUTES if r.audience in ("terminal", "parent", "staff")]
IDP_ROUTES = [r for r in ROUTES if r.audience in ("parent", "staff")]

# (audience of the route, kind of token) -> (status, code); kinds are Sec.token() names.
CROSS = {
    ("terminal", "parent"): (401, "invalid_token"),
    ("terminal", "operator"): (401, "invalid_token"),
    ("parent", "terminal"): (401, "invalid_token"),
    ("parent", "operator"): (401, "invalid_token"),
    ("parent", "school_admin"): (401, "invalid_token"),
    ("staff", "terminal"): (401, "invalid_token"),
    ("staff", "parent"): (403, "forbidden"),
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(sec: Any, route_audience: str, **overrides: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    subject, extra = (PARENT_IIN, {"role": "parent"}) if route_audience == "parent" else ("op-1", {"role": "operator"})
    body = {"iss": sec.settings.idp_issuer, "aud": sec.settings.idp_audience, "sub": subject, "iat": now,
            "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex, **extra}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _signed(sec: Any, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, dev_idp.private_key(sec.settings), algorithm="ES256", headers={"kid": dev_idp.KID})


def _alg_none(sec: Any, aud: str) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": dev_idp.KID}).encode())
    return f"{header}.{b64(json.dumps(_claims(sec, aud)).encode())}."


def _hs256_with_public_key(sec: Any, aud: str) -> str:
    public_pem = dev_idp.private_key(sec.settings).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": dev_idp.KID}).encode())
    body = b64(json.dumps(_claims(sec, aud)).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


def _rs256_for_the_ec_kid(sec: Any, aud: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(sec, aud), key, algorithm="RS256", headers={"kid": dev_idp.KID})


def _expired(sec: Any, aud: str) -> str:
    past = int(dt.datetime.now(dt.UTC).timestamp()) - 7200
    return _signed(sec, _claims(sec, aud, iat=past, nbf=past, exp=past + 600))


BAD_IDP_TOKENS: dict[str, tuple[Callable[[Any, str], str], str]] = {
    "alg none": (_alg_none, "invalid_token"),
    "HS256 with the provider's public key": (_hs256_with_public_key, "invalid_token"),
    "RS256 key claiming the provider's EC kid": (_rs256_for_the_ec_kid, "invalid_token"),
    "wrong audience": (lambda s, a: _signed(s, _claims(s, a, aud="someone-else")), "invalid_token"),
    "the terminals' audience": (lambda s, a: _signed(s, _claims(s, a, aud=AUDIENCE)), "invalid_token"),
    "wrong issuer": (lambda s, a: _signed(s, _claims(s, a, iss="https://idp.example")), "invalid_token"),
    "no audience": (lambda s, a: _signed(s, _claims(s, a, aud=None)), "invalid_token"),
    "expired": (_expired, "token_expired"),
    "signed by a terminal's key": (lambda s, a: jwt.encode(_claims(s, a), s.terminal.private, algorithm="EdDSA",
                                                            headers={"kid": dev_idp.KID}), "invalid_token"),
}


def test_tokens_of_another_audience_are_refused_everywhere(client, sec, session_factory):
    from tests.security.test_bola import state

    before = state(session_factory)
    failures = []
    for route in AUTHENTICATED:
        for (audience, kind), (status, code) in CROSS.items():
            if audience != route.audience:
                continue
            response = send(client, route, sec, kind)
            got = (response.status_code, (response.get_json(silent=True) or {}).get("code"))
            if got != (status, code):
                failures.append(f"{route.name} with a {kind} token: expected {status} {code}, got {got}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before


def test_forged_and_misdirected_provider_tokens_are_refused_everywhere(client, sec, session_factory):
    from tests.security.test_bola import state

    before = state(session_factory)
    failures = []
    for route in IDP_ROUTES:
        for name, (make, code) in BAD_IDP_TOKENS.items():
            token = make(sec, route.audience)
            response = send(client, route, sec, None, headers={"Authorization": f"Bearer {token}"})
            body = response.get_json(silent=True) or {}
            if (response.status_code, body.get("code")) != (401, code):
                failures.append(f"{route.name}, {name}: got {response.status_code} {body.get('code')}")
            elif not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
                failures.append(f"{route.name}, {name}: a 401 without a Bearer challenge")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before


def test_a_spent_terminal_token_is_refused_on_every_route(client, sec):
    """A terminal jti is good for one request, whatever the route it is replayed on (terminal routes refuse it
    as replayed; the others refuse a terminal token at all)."""
    token = sec.terminal.token()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/terminal/roster", headers=headers)
    assert first.status_code == 200
    for route in AUTHENTICATED:
        response = send(client, route, sec, None, headers=headers)
        assert response.status_code == 401, (route.name, response.status_code)
        if route.audience == "terminal":
            assert response.get_json()["code"] == "token_replayed", route.name


def test_provider_tokens_are_bearer_tokens_until_they_expire(client, sec):
    """Parents' and staff's access tokens are not single-use (an app makes many calls with one); their `exp`
    bounds a stolen token's use. This pins that decision (SECURITY.md, 'a lost phone')."""
    headers = sec.headers("parent")
    assert [client.get("/api/v1/parent/children", headers=headers).status_code for _ in range(2)] == [200, 200]
