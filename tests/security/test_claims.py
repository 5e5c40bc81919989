"""Claims of the identity provider's tokens, read strictly and failing closed (wallet/principals.py).

Tokens are built by hand (raw JSON, so any JSON type can stand in any claim) and signed with the development
identity provider's real key. Every claim the service reads is tried with every wrong JSON type and shape,
for parents and for staff of every role, on the API and on the console's sign-in:

- `sub`, `role` and the time claims say who is calling and when: wrong is 401 `invalid_token`;
- the scope claims (`region` or `national`, `school`, `supplier`) say what a staff member may see: missing,
  empty or malformed is 403 `forbidden`, on every staff route; national scope is only the operator role or
  an auditor's explicit `"national": true`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from jwt.api_jws import PyJWS
from sqlalchemy import select

from api.auth import dev_idp
from tests.parent_factories import PARENT_IIN
from tests.security.routes import ROUTES, route, send
from tests.security.test_bola import state
from wallet.models import School
from wallet.principals import Principal
from wallet.scope import schools_in_scope

PARENT_ROUTE = route("GET /api/v1/parent/children")
STAFF_ROUTE = route("GET /api/v1/auditor/feedback")  # open to every staff role, scoped by school
STAFF_ROUTES = [r for r in ROUTES if r.audience == "staff"]

# Every JSON type but a string, and strings of the wrong shape.
NOT_STRINGS: list[Any] = [71, 0, -1, 7.5, 1e308, True, False, None, {}, {"code": "KZ-71"}, [], ["KZ-71"], [[]]]
BAD_STRINGS = ["", " ", "\t", "\n", "\x00", "KZ-71\x00", " KZ-71", "KZ-71 ", "KZ-71\n", "x" * 2000, "\u202e"]
FUTURE = int(dt.datetime.now(dt.UTC).timestamp()) + 600
NOT_NUMBERS: list[Any] = [str(FUTURE), "", True, False, None, {}, [], [FUTURE], {"t": FUTURE}, 1e308, 10**30, -1]

def mint(settings: Any, claims: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    """A token signed with the development identity provider's key whose payload is exactly `claims` as
    JSON (NaN and Infinity too), with the standard claims filled in unless given or dropped."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = {"iss": settings.idp_issuer, "aud": settings.idp_audience, "iat": now, "nbf": now, "exp": now + 600,
            "jti": uuid.uuid4().hex, **claims}
    for name in drop:
        body.pop(name, None)
    payload = json.dumps(body).encode()
    return PyJWS().encode(payload, dev_idp.private_key(settings), algorithm="ES256",
                          headers={"kid": dev_idp.KID, "typ": "JWT"})


def base_claims(sec: Any, who: str) -> dict[str, Any]:
    return {
        "parent": {"sub": PARENT_IIN, "role": "parent"},
        "operator": {"sub": "op-7", "role": "operator"},
        "auditor": {"sub": "aud-7", "role": "auditor", "region": sec.region},
        "national_auditor": {"sub": "aud-8", "role": "auditor", "national": True},
        "school_admin": {"sub": "sa-7", "role": "school_admin", "school": sec.school},
        "supplier": {"sub": "sup-7", "role": "supplier", "supplier": sec.supplier},
    }[who]


def call(client: Any, sec: Any, who: str, token: str, target: Any = None) -> Any:
    target = target or (PARENT_ROUTE if who == "parent" else STAFF_ROUTE)
    return send(client, target, sec, None, headers={"Authorization": f"Bearer {token}"}, check=True)


def outcome(response: Any) -> tuple[int, str | None]:
    body = response.get_json(silent=True) if response.mimetype == "application/problem+json" else None
    return response.status_code, body.get("code") if isinstance(body, dict) else None


WHO = ("parent", "operator", "auditor", "national_auditor", "school_admin", "supplier")
UNUSABLE = {(401, "invalid_token"), (401, "token_expired")}
REFUSED = {(403, "forbidden")}
# Every claim the service reads, with its wrong values: who is calling and when (401), what they may see (403).
IDENTITY = [("sub", NOT_STRINGS + BAD_STRINGS), ("role", [*NOT_STRINGS, "", "\x00", "operator\x00", "r" * 40])]
TIMES = [("exp", NOT_NUMBERS), ("iat", NOT_NUMBERS), ("nbf", NOT_NUMBERS)]
OTHERS = [("iss", [*NOT_STRINGS, "", " "]), ("aud", [71, True, None, {}, [], [71], ""]),
          ("jti", [71, True, {}, [], ["x"]])]


def scopes(sec: Any, who: str) -> list[tuple[str, list[Any]]]:
    """The scope claim of each role with its wrong values (a BIN with a wrong check digit among them)."""
    def wrong_check_digit(bin_: str) -> str:
        return bin_[:11] + str((int(bin_[11]) + 1) % 10)

    bins = NOT_STRINGS + BAD_STRINGS + ["0" * 11, "0" * 13, "０" * 12, "abcdefghijkl"]
    return {
        "auditor": [("region", NOT_STRINGS + BAD_STRINGS + ["KZ 71", "KZ/71", "-KZ", "*", "%", "K" * 33]),
                    ("national", [1, 0, "true", "yes", None, {}, [], [True]])],
        "national_auditor": [("national", [1, "true", False, None, {}, [], [True]])],
        "school_admin": [("school", [*bins, wrong_check_digit(sec.school), int(sec.school)])],
        "supplier": [("supplier", [*bins, wrong_check_digit(sec.supplier), int(sec.supplier)])],
    }.get(who, [])


@pytest.mark.parametrize("who", WHO)
def test_every_claim_read_of_every_wrong_type_is_a_401_or_403_problem(client, sec, who):
    good = base_claims(sec, who)
    assert call(client, sec, who, mint(sec.settings, good)).status_code == 200  # the control: the same, right
    failures = []
    for claims, expected in ((IDENTITY + TIMES + OTHERS, UNUSABLE), (scopes(sec, who), REFUSED)):
        for name, values in claims:
            for value in values:
                answer = outcome(call(client, sec, who, mint(sec.settings, {**good, name: value})))
                if answer not in expected:
                    failures.append(f"{who} {name}={value!r:.40}: {answer}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("who", WHO)
def test_a_null_role_and_nan_or_infinite_times_are_401(client, sec, who):
    good = base_claims(sec, who)
    for claims in ({**good, "role": None}, {**good, "exp": float("nan")}, {**good, "exp": float("inf")},
                   {**good, "iat": float("-inf")}, {**good, "nbf": float("nan")}, {**good, "exp": 10**400}):
        assert outcome(call(client, sec, who, mint(sec.settings, claims))) == (401, "invalid_token"), claims


@pytest.mark.parametrize("who", WHO)
def test_claims_the_service_does_not_read_are_ignored_whatever_their_type(client, sec, who):
    """`roles` (a list some providers send) is not read: it neither grants nor breaks anything."""
    good = base_claims(sec, who)
    for value in (["operator"], "operator", 71, None, {"operator": True}, True):
        assert call(client, sec, who, mint(sec.settings, {**good, "roles": value})).status_code == 200


MISSING_SCOPES = {
    "auditor": [{"region": None}, {"region": ""}, {"region": "  "}, {"region": "\t"}, {"national": False},
                {"national": "true"}, {"region": [], "national": False}],
    "school_admin": [{"school": None}, {"school": ""}, {"school": " "}, {"school": "0" * 12}],
    "supplier": [{"supplier": None}, {"supplier": ""}, {"supplier": " "}, {"supplier": "0" * 12}],
}


@pytest.mark.parametrize("role", sorted(MISSING_SCOPES))
def test_a_missing_or_empty_scope_is_refused_on_every_staff_route(client, sec, session_factory, role):
    """The auditor with no region (or an empty one) used to see every region, full IINs in exports included."""
    before = state(session_factory)
    failures = []
    for change in MISSING_SCOPES[role]:
        claims = {"sub": f"{role}-9", "role": role}
        claims.update({k: v for k, v in change.items() if v is not None})
        token = mint(sec.settings, claims)
        for r in STAFF_ROUTES:
            answer = outcome(call(client, sec, role, token, r))
            if answer != (403, "forbidden"):
                failures.append(f"{r.name} as {claims}: {answer}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before


def test_national_scope_is_only_an_explicit_claim(client, sec):
    operator = call(client, sec, "operator", mint(sec.settings, base_claims(sec, "operator")),
                    route("GET /api/v1/auditor/reconciliations")).get_json()
    national = call(client, sec, "auditor", mint(sec.settings, base_claims(sec, "national_auditor")),
                    route("GET /api/v1/auditor/reconciliations")).get_json()
    for body in (national, operator):
        body.pop("generatedAt", None)  # when each was computed
    assert national == operator and operator["schools"]
    both = mint(sec.settings, {**base_claims(sec, "auditor"), "national": True})
    assert outcome(call(client, sec, "auditor", both)) == (403, "forbidden")  # a region and national: which?


@pytest.mark.parametrize("who", ["parent", "operator", "auditor", "school_admin", "supplier"])
def test_the_console_sign_in_refuses_the_same_claims(app, sec, who):
    console = app.test_client()
    good = base_claims(sec, who)

    def sign_in(claims: dict[str, Any]) -> Any:
        page = console.get("/console/sign-in").get_data(as_text=True)
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        return console.post("/console/sign-in", data={"csrf_token": csrf, "token": mint(sec.settings, claims)})

    failures = []
    for claims, wanted in ((IDENTITY + TIMES + OTHERS, 401), (scopes(sec, who), 403)):
        for name, values in claims:
            for value in values:
                response = sign_in({**good, name: value})
                signed_in = console.get("/console/").headers.get("Location", "")
                if response.status_code != wanted or response.mimetype != "text/html" or "sign-in" not in signed_in:
                    failures.append(f"{who} {name}={value!r:.40}: {response.status_code}, then {signed_in}")
    assert not failures, "\n".join(failures)
    assert sign_in(good).status_code == 303  # the control


def test_the_domain_scope_fails_closed_for_an_auditor_without_a_region(session_factory, world):
    """Defence in depth below the token check: a Principal made in code with no region is not national."""
    with session_factory() as session:
        every = set(session.scalars(select(School.id)))
        assert set(session.scalars(schools_in_scope(Principal("a", "auditor")))) == set()
        assert set(session.scalars(schools_in_scope(Principal("a", "auditor", region_code="")))) == set()
        assert set(session.scalars(schools_in_scope(Principal("a", "auditor", national=True)))) == every
        assert set(session.scalars(schools_in_scope(Principal("s", "school_admin")))) == set()
        assert set(session.scalars(schools_in_scope(Principal("s", "supplier")))) == set()


def test_a_console_sign_in_keeps_national_scope_explicit(session_factory, world):
    """The server-side sign-in row keeps a national auditor national and a regional one regional; a row
    without a region (as older sign-ins were stored) is not read as national."""
    from wallet.console_sessions import find_session, open_session

    now = dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(minutes=5)
    with session_factory() as session:
        for principal in (Principal("a1", "auditor", national=True), Principal("a2", "auditor", region_code="KZ-19"),
                          Principal("a3", "auditor")):
            assert find_session(session, open_session(session, principal, until, now), now) == principal
