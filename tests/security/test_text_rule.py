"""NUL and other control characters never reach the database (PostgreSQL refuses NUL in text: each case
below was a 500 there): the one text rule of wallet.text holds for token claims read before the signature is
checked, path parameters, query parameters and body fields, and a refused request leaves no trace (an
enrollment code is not used up by a refused enrolment). tests/security/test_every_field.py walks every
field of openapi.yaml; these are the cases reported, each with its own expectation."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import quote

import jwt

from tests.factories import AUDIENCE
from tests.live_server import enrollment_code
from tests.security.test_bola import access_log, state

CONTROLS = ["\x00", "a\x00b", "\x01", "\x1b[2J", "\x7f", "\x85", "\x9f", "x\n", "x\r", "\t"]
TOO_LONG = "x" * 10_000


def _problem(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    if code is not None:
        assert body["code"] == code, body
    return body


def _token(sec, **claims) -> str:  # type: ignore[no-untyped-def]
    """A terminal token signed by the terminal's key, with claims of any JSON type (pyjwt's encode would
    refuse a non-string issuer)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    payload = {"iss": sec.terminal.terminal_id, "sub": sec.terminal.terminal_id, "aud": AUDIENCE, "iat": now,
               "exp": now + 120, "jti": uuid.uuid4().hex, **claims}
    return jwt.api_jws.encode(json.dumps(payload).encode(), sec.terminal.private, algorithm="EdDSA")


def test_a_terminal_token_whose_issuer_is_no_terminal_id_is_401(client, sec, session_factory):
    """`iss` is read before the signature is checked (to find the key): only a terminal id's shape is looked
    up, so a NUL, a control character or 10 kB never reach the database."""
    before = state(session_factory)
    for issuer in [*CONTROLS, sec.terminal.terminal_id + "\x00", sec.terminal.terminal_id + "\n", TOO_LONG, "",
                   7, None, True, ["T-school-a"], {"id": 1}]:
        response = client.get("/api/v1/terminal/roster",
                              headers={"Authorization": f"Bearer {_token(sec, iss=issuer)}"})
        _problem(response, 401, "invalid_token")
    assert state(session_factory) == before


def test_a_signed_terminal_token_with_a_control_character_in_its_jti_is_401(client, sec, session_factory):
    before = state(session_factory)
    for jti in ["abcdefgh\x00", "abcdefgh\x1b", "abcdefgh\u0085", "abcdefgh\n"]:
        _problem(client.get("/api/v1/terminal/roster", headers={"Authorization": f"Bearer {_token(sec, jti=jti)}"}),
                 401, "invalid_token")
    assert state(session_factory) == before


def test_an_admin_terminal_id_with_a_control_character_is_404(client, sec, session_factory):
    before = state(session_factory)
    for bad in [*CONTROLS, "x" * 300]:
        for action, method in (("revoke", "POST"), ("gaps", "GET")):
            url = f"/api/v1/admin/terminals/{quote(sec.terminal.terminal_id + bad)}/{action}"
            _problem(client.open(url, method=method, headers=sec.headers("operator")), 404)
    assert state(session_factory) == before


def test_a_terminal_label_or_id_with_a_control_character_is_422(client, sec, session_factory):
    before = state(session_factory)
    good = {"schoolBin": sec.school, "publicKey": sec.terminal.public_b64, "terminalId": "T-new-1"}
    cases = [("label", label) for label in [*CONTROLS, "x" * 101]] + [
        ("terminalId", terminal_id) for terminal_id in ["T-new-1\n", "T-new\x001", "T new 1", "-T-new-1", "T" * 65]
    ] + [("schoolBin", f"{sec.school}\n"), ("publicKey", sec.terminal.public_b64 + "\x00")]
    for field, value in cases:
        body = _problem(client.post("/api/v1/admin/terminals", json={**good, field: value},
                                    headers=sec.headers("operator")), 422)
        assert field in {e["field"] for e in body["errors"]}, (field, value, body)
    assert state(session_factory) == before


def test_a_refused_enrolment_does_not_use_up_its_code(client, sec, session_factory):
    code = enrollment_code(session_factory, sec.school)
    before = state(session_factory)
    for label in ["kitchen\x00", "\x1b[31mred", "line\u0085", "x" * 101]:
        refused = client.post("/api/v1/terminal/enroll", json={"code": code, "publicKey": sec.terminal.public_b64,
                                                               "label": label})
        assert "label" in {e["field"] for e in _problem(refused, 422)["errors"]}
    for field, value in (("code", code + "\x00"), ("publicKey", sec.terminal.public_b64 + "\x00"),
                         ("publicKey", "A" * 65)):
        refused = client.post("/api/v1/terminal/enroll", json={"code": code, "publicKey": sec.terminal.public_b64,
                                                               field: value})
        assert field in {e["field"] for e in _problem(refused, 422)["errors"]}
    assert state(session_factory) == before
    enrolled = client.post("/api/v1/terminal/enroll", json={"code": code, "publicKey": sec.terminal.public_b64,
                                                            "label": "kitchen 2"})
    assert enrolled.status_code == 201, enrolled.get_data(as_text=True)


def test_a_period_region_with_a_control_character_is_422(client, sec, session_factory):
    before = state(session_factory)
    for region in [*CONTROLS, "", "x" * 33]:
        response = client.post("/api/v1/auditor/periods", json={"region": region, "month": sec.last_month},
                               headers=sec.headers("operator"))
        assert "region" in {e["field"] for e in _problem(response, 422)["errors"]}, repr(region)
        for url in (f"/api/v1/auditor/periods?region={quote(region)}",
                    f"/api/v1/auditor/reconciliations?month={sec.month}&region={quote(region)}",
                    f"/api/v1/auditor/payment-registry?month={sec.closed_month}&region={quote(region)}"):
            _problem(client.get(url, headers=sec.headers("operator")), 422)
    assert state(session_factory) == before


def test_a_query_parameter_with_a_control_character_is_422(client, sec, session_factory):
    before = state(session_factory)
    base = {"month": sec.month, "school": sec.school}
    for name in ["region", "month", "school", "class", "format", "unknown"]:
        for bad in ("a%00b", "%1B", "%C2%85"):
            query = "&".join(f"{k}={v}" for k, v in {**base, name: bad}.items())
            body = _problem(client.get(f"/api/v1/auditor/meal-sheets?{query}", headers=sec.headers("operator")), 422)
            assert f"query/{name}" in {e["field"] for e in body["errors"]}, (name, body)
    assert state(session_factory) == before


def test_a_void_reason_with_a_control_character_is_422(client, sec, session_factory):
    before = state(session_factory)
    for reason in ["served\x00twice", "\x1b]0;title\x07", "x\u009b", "x" * 501, "   "]:
        response = client.post(f"/api/v1/admin/entries/{sec.other_entry}/void", json={"reason": reason},
                               headers=sec.headers("operator"))
        assert "reason" in {e["field"] for e in _problem(response, 422)["errors"]}
    assert state(session_factory) == before


def test_a_void_reason_may_span_lines(client, sec):
    response = client.post(f"/api/v1/admin/entries/{sec.other_entry}/void",
                           json={"reason": "served twice:\n\tonce at 12:05, once at 12:06"},
                           headers=sec.headers("operator"))
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_feedback_id_with_a_control_character_in_a_parent_path_is_404_and_not_logged(client, sec,
                                                                                       session_factory):
    before, logged = state(session_factory), access_log(session_factory)
    for bad in ["%00", "1%00", "%01", "1%0A", "%C2%85", "1" * 300]:
        url = f"/api/v1/parent/children/{sec.child}/meals/{bad}/feedback"
        _problem(client.get(url, headers=sec.headers("parent")), 404)
        _problem(client.post(url, json={"rating": 4}, headers=sec.headers("parent")), 404)
    assert state(session_factory) == before
    assert access_log(session_factory) == logged


def test_an_identity_provider_token_is_not_a_terminal_token(client, sec):
    """The parent's token names no terminal: refused without a lookup of its issuer as a terminal id."""
    token = jwt.encode({"iss": "\x00", "sub": "x", "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
                        "jti": uuid.uuid4().hex}, "k" * 32, algorithm="HS256")
    _problem(client.get("/api/v1/terminal/roster", headers={"Authorization": f"Bearer {token}"}), 401)
