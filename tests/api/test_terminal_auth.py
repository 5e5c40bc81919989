"""Terminal tokens: every way a token can be wrong is a 401 (or 403 for a revoked terminal) problem response,
and nothing is stored."""

import base64
import datetime as dt
import json
import uuid

import jwt
from sqlalchemy import func, select

from api.auth import dev_idp
from tests.factories import AUDIENCE, TerminalKey, batch, meal_event
from wallet.models import LedgerEntry, Terminal, UsedTokenId

EVENTS = "/api/v1/terminal/events"
ROSTER = "/api/v1/terminal/roster"


def count(session_factory, model=LedgerEntry) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    assert body["type"] == f"urn:social-wallet:problem:{code}"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def claims_of(key: TerminalKey, **overrides) -> dict:
    claims = {"iss": key.terminal_id, "sub": key.terminal_id, "aud": AUDIENCE, "iat": now(),
              "exp": now() + dt.timedelta(minutes=2), "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def raw_token(key: TerminalKey, payload: object, header: object = None) -> str:
    """A token signed by `key` whatever the claims hold, for what pyjwt itself refuses to encode."""

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header or {'alg': 'EdDSA', 'typ': 'JWT'})}.{part(payload)}"
    signature = base64.urlsafe_b64encode(key.private.sign(signing_input.encode())).rstrip(b"=").decode()
    return f"{signing_input}.{signature}"


def _numeric(value: dt.datetime) -> int:
    return int(value.timestamp())


def _other_terminal(session_factory, world) -> TerminalKey:
    other = TerminalKey("T-test-2")
    with session_factory() as session:
        other.register(session, world.school)
    return other


# Helpers that make an Authorization header from (terminal_key, session_factory, world, settings).
def _alg_none(key, *_):
    return "Bearer " + jwt.encode(claims_of(key), None, algorithm="none")


def _hs256_with_public_key_text(key, *_):
    return "Bearer " + jwt.encode(claims_of(key), key.public_b64, algorithm="HS256")


def _hs256_with_public_key_bytes(key, *_):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "Bearer " + jwt.encode(claims_of(key), raw, algorithm="HS256")


def _signed_by_a_stranger(key, *_):
    stranger = TerminalKey(key.terminal_id)  # same iss, a key the service has never seen
    return "Bearer " + stranger.token()


def _signed_by_another_terminal(key, session_factory, world, *_):
    other = _other_terminal(session_factory, world)  # registered, but the token claims to be terminal A
    forged = TerminalKey(key.terminal_id)
    forged.private = other.private
    return "Bearer " + forged.token()


def _tampered_payload(key, *_):
    header, _payload, signature = key.token().split(".")
    other_payload = key.token(sub="T-someone-else").split(".")[1]
    return f"Bearer {header}.{other_payload}.{signature}"


def _staff_token_from_the_idp(key, session_factory, world, settings):
    return "Bearer " + dev_idp.issue_token(settings, "op-1", {"role": "operator"})


BAD_TOKENS = {
    # name: (make Authorization header, status, code)
    "no header": (lambda *_: None, 401, "unauthorized"),
    "basic scheme": (lambda *_: "Basic dXNlcjpwYXNz", 401, "unauthorized"),
    "empty bearer": (lambda *_: "Bearer ", 401, "unauthorized"),
    "not a jwt": (lambda *_: "Bearer not.a.jwt", 401, "invalid_token"),
    "garbage": (lambda *_: "Bearer " + "x" * 200, 401, "invalid_token"),
    "too long": (lambda k, *_: "Bearer " + k.token(pad="x" * 9000), 401, "invalid_token"),
    "alg none": (_alg_none, 401, "invalid_token"),
    "hs256 with the public key as secret": (_hs256_with_public_key_text, 401, "invalid_token"),
    "hs256 with the raw public key bytes": (_hs256_with_public_key_bytes, 401, "invalid_token"),
    "signed by an unknown key": (_signed_by_a_stranger, 401, "invalid_token"),
    "signed by another terminal's key": (_signed_by_another_terminal, 401, "invalid_token"),
    "tampered payload": (_tampered_payload, 401, "invalid_token"),
    "expired": (lambda k, *_: "Bearer " + k.token(iat=now() - dt.timedelta(minutes=12),
                                                  exp=now() - dt.timedelta(minutes=7)), 401, "token_expired"),
    "wrong aud": (lambda k, *_: "Bearer " + k.token(aud="someone-else"), 401, "invalid_token"),
    "aud missing": (lambda k, *_: "Bearer " + k.token(aud=None), 401, "invalid_token"),
    "unknown terminal as iss": (lambda k, *_: "Bearer " + TerminalKey("T-unknown").token(), 401, "invalid_token"),
    "iss missing": (lambda k, *_: "Bearer " + k.token(iss=None), 401, "invalid_token"),
    "iss not a string": (lambda k, *_: "Bearer " + raw_token(k, {**claims_of(k), "iss": [k.terminal_id],
                                                                 "iat": _numeric(now()),
                                                                 "exp": _numeric(now()) + 60}),
                         401, "invalid_token"),
    # An issuer that no terminal id can be is refused before the database is asked (PostgreSQL refuses a NUL,
    # both drivers an unpaired surrogate: those were 500s).
    **{f"iss {name}": (lambda k, *_, iss=iss: "Bearer " + raw_token(k, {**claims_of(k), "iss": iss, "sub": iss,
                                                                     "iat": _numeric(now()),
                                                                     "exp": _numeric(now()) + 60}),
                       401, "invalid_token")
       for name, iss in {"an unpaired surrogate": "\ud800", "with a NUL": "T-\x00", "a control character": "T\x1b[2J",
                         "empty": "", "longer than a terminal id": "T" * 65, "a line break": "T-1\n"}.items()},
    "payload not an object": (lambda k, *_: "Bearer " + raw_token(k, [k.terminal_id]), 401, "invalid_token"),
    "header without alg": (lambda k, *_: "Bearer " + raw_token(k, {}, {"typ": "JWT"}), 401, "invalid_token"),
    "sub differs from iss": (lambda k, *_: "Bearer " + k.token(sub="T-other"), 401, "invalid_token"),
    "sub missing": (lambda k, *_: "Bearer " + k.token(sub=None), 401, "invalid_token"),
    "lifetime too long": (lambda k, *_: "Bearer " + k.token(exp=now() + dt.timedelta(minutes=11)),
                          401, "invalid_token"),
    "jti missing": (lambda k, *_: "Bearer " + k.token(jti=None), 401, "invalid_token"),
    "jti too short": (lambda k, *_: "Bearer " + k.token(jti="abc"), 401, "invalid_token"),
    "jti not a string": (lambda k, *_: "Bearer " + k.token(jti=12345678901), 401, "invalid_token"),
    "exp missing": (lambda k, *_: "Bearer " + k.token(exp=None), 401, "invalid_token"),
    "iat missing": (lambda k, *_: "Bearer " + k.token(iat=None), 401, "invalid_token"),
    "nbf in the future": (lambda k, *_: "Bearer " + k.token(nbf=now() + dt.timedelta(minutes=7)),
                          401, "invalid_token"),
    "iat in the future": (lambda k, *_: "Bearer " + k.token(iat=now() + dt.timedelta(minutes=7),
                                                            exp=now() + dt.timedelta(minutes=9)),
                          401, "invalid_token"),
    "iat as a string": (lambda k, *_: "Bearer " + k.token(iat=str(_numeric(now()))), 401, "invalid_token"),
    "exp as a string": (lambda k, *_: "Bearer " + k.token(exp=str(_numeric(now()) + 60)),
                        401, "invalid_token"),
    "exp infinite": (lambda k, *_: "Bearer " + raw_token(k, {**claims_of(k), "iat": _numeric(now()),
                                                             "exp": float("inf")}), 401, "invalid_token"),
    "nbf as a string": (lambda k, *_: "Bearer " + k.token(nbf=str(_numeric(now()))), 401, "invalid_token"),
    "exp as a boolean": (lambda k, *_: "Bearer " + k.token(exp=True), 401, "token_expired"),
    "staff token from the identity provider": (_staff_token_from_the_idp, 401, "invalid_token"),
}


def problem_mismatch(response, status: int, code: str) -> str | None:
    body = response.get_json(silent=True) or {}
    got = (response.status_code, response.mimetype, body.get("code"))
    if got != (status, "application/problem+json", code):
        return f"expected {status} {code}, got {got}"
    if status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
        return "a 401 without a Bearer challenge"
    return None


def test_every_bad_token_is_refused_and_nothing_is_stored(checked, session_factory, world, terminal_key, settings):
    # One database for all cases (fast); every failing case is reported, not only the first.
    failures = []
    for case, (make_header, status, code) in BAD_TOKENS.items():
        header = make_header(terminal_key, session_factory, world, settings)
        before = count(session_factory), count(session_factory, UsedTokenId)
        try:
            response = checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)),
                                    headers={"Authorization": header} if header else {})
        except Exception as exc:  # a response outside the contract, e.g. a 500
            failures.append(f"{case}: {exc!r}")
            continue
        if mismatch := problem_mismatch(response, status, code):
            failures.append(f"{case}: {mismatch}")
        if (count(session_factory), count(session_factory, UsedTokenId)) != before:
            failures.append(f"{case}: something was stored")
    assert not failures, "\n".join(failures)
    # And the terminal's good token still works after all that.
    assert checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)),
                        headers=terminal_key.headers()).status_code == 200


def test_the_roster_refuses_bad_tokens_too(checked, session_factory, world, terminal_key, settings):
    for case in ["no header", "alg none", "hs256 with the public key as secret", "expired",
                 "signed by an unknown key", "sub differs from iss", "exp as a string"]:
        make_header, status, code = BAD_TOKENS[case]
        header = make_header(terminal_key, session_factory, world, settings)
        response = checked.get(ROSTER, headers={"Authorization": header} if header else {})
        assert problem_mismatch(response, status, code) is None, case


def test_a_replayed_token_is_refused(checked, session_factory, world, terminal_key):
    headers = terminal_key.headers()
    first = checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)), headers=headers)
    assert first.status_code == 200
    assert count(session_factory) == 1
    again = checked.post(EVENTS, json=batch(meal_event(world.eligible[1], 2)), headers=headers)
    assert_problem(again, 401, "token_replayed")
    assert count(session_factory) == 1
    # A replay on another endpoint is refused as well: a jti is good for one request, whatever it is.
    assert_problem(checked.get(ROSTER, headers=headers), 401, "token_replayed")


def test_a_token_is_spent_by_a_refused_batch_too(checked, session_factory, world, terminal_key):
    # The batch's commit spends the token id; a batch refused before it gets there commits the id alone.
    headers = terminal_key.headers()
    assert_problem(checked.post(EVENTS, json={"sentAt": now().isoformat(), "events": []}, headers=headers),
                   422, "validation_failed")
    again = checked.post(EVENTS, json=batch(meal_event(world.eligible[1], 2)), headers=headers)
    assert_problem(again, 401, "token_replayed")
    assert count(session_factory) == 0


def test_a_token_is_spent_by_a_batch_that_fails(checked, client, session_factory, world, terminal_key,
                                                monkeypatch):
    import api.terminals
    from wallet.ingest import record_batch

    def fail(*_args, **_kwargs):
        raise RuntimeError("the service failed")

    monkeypatch.setattr(api.terminals, "record_batch", fail)
    headers = terminal_key.headers()
    monkeypatch.setitem(client.application.config, "PROPAGATE_EXCEPTIONS", False)
    failed = client.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)), headers=headers)
    assert failed.status_code == 500
    monkeypatch.setattr(api.terminals, "record_batch", record_batch)
    assert_problem(checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)), headers=headers),
                   401, "token_replayed")
    assert count(session_factory) == 0


def test_a_jti_is_scoped_to_its_terminal(checked, session_factory, world, terminal_key):
    other = _other_terminal(session_factory, world)
    jti = uuid.uuid4().hex
    assert checked.get(ROSTER, headers=terminal_key.headers(jti=jti)).status_code == 200
    assert checked.get(ROSTER, headers=other.headers(jti=jti)).status_code == 200


def test_a_token_inside_the_clock_leeway_is_accepted(checked, world, terminal_key):
    # Device clocks drift: an `nbf`/`iat` ahead by less than the clock tolerance (5 minutes) is accepted.
    ahead = now() + dt.timedelta(minutes=4)
    response = checked.get(ROSTER, headers=terminal_key.headers(iat=ahead, nbf=ahead,
                                                                exp=ahead + dt.timedelta(minutes=2)))
    assert response.status_code == 200


def test_a_revoked_terminal_is_refused_at_once(checked, session_factory, world, terminal_key):
    assert checked.get(ROSTER, headers=terminal_key.headers()).status_code == 200
    with session_factory() as session:
        session.get(Terminal, terminal_key.terminal_id).status = "revoked"
        session.commit()
    before = count(session_factory), count(session_factory, UsedTokenId)
    response = checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1)), headers=terminal_key.headers())
    assert_problem(response, 403, "terminal_revoked")
    assert_problem(checked.get(ROSTER, headers=terminal_key.headers()), 403, "terminal_revoked")
    assert (count(session_factory), count(session_factory, UsedTokenId)) == before
