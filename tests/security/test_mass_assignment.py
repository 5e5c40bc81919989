"""Mass assignment: members a client must not set (a verdict, a price, a chain position or hash, a terminal's
school or status, a feedback's version or time, who closed a period...) are refused with a 422 naming them,
and nothing is stored. The service decides these; a client can only propose what the contract lets it send.

Inside a terminal batch, such members make that one event `invalid` (tests/api/test_terminal_bad_input.py:
verdict, priceTiyn, position, schoolId); here are the rest of the ledger's own members, and every other
body of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from tests.factories import batch, meal_event
from tests.security.routes import route, send
from tests.security.test_bola import state
from wallet.models import Terminal


def _claim_line(s: Any) -> dict[str, Any]:
    return {"schoolBin": s.school, "day": s.world.today.isoformat(), "mealType": "lunch", "meals": 1,
            "amountTiyn": 85000}


# route, caller, a body the route accepts (from the security world), and the members smuggled into it.
TABLE: list[tuple[str, str, Callable[[Any], dict[str, Any]], list[tuple[str, Any]]]] = [
    # The envelope of a batch: the terminal and its school come from the token, the time from the server.
    ("POST /api/v1/terminal/events", "terminal", lambda s: batch(meal_event(s.world.eligible[3], 30)),
     [("terminalId", "T-school-b"), ("schoolBin", "150340001500"), ("schoolId", 2),
      ("receivedAt", "2020-01-01T00:00:00Z"), ("verdict", "billable")]),
    # Enrollment: the school comes from the one-time code, the id and status from the service.
    ("POST /api/v1/terminal/enroll", "anonymous",
     lambda s: {"code": s.enrollment_code, "publicKey": s.terminal.public_b64},
     [("schoolBin", "150340001500"), ("terminalId", "T-mine"), ("status", "active")]),
    # An operator registers a terminal, but its status and times are the service's.
    ("POST /api/v1/admin/terminals", "operator", lambda s: {"schoolBin": s.school, "publicKey": s.terminal.public_b64},
     [("status", "revoked"), ("createdAt", "2020-01-01T00:00:00Z"), ("lastContactAt", "2020-01-01T00:00:00Z"),
      ("clockOffsetMs", 0)]),
    # A void is a new entry: its price, position, target and author are the service's.
    ("POST /api/v1/admin/entries/<int:entry_id>/void", "operator", lambda s: {"reason": "a test"},
     [("priceTiyn", 0), ("position", 1), ("refersTo", 1), ("kind", "adjustment"), ("actor", "operator:someone"),
      ("leafHash", "00" * 32)]),
    # Parents: a feedback's version, times and ids; an allergy record's time and child.
    ("POST /api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent", lambda s: {"rating": 1},
     [("version", 7), ("createdAt", "2020-01-01T00:00:00Z"), ("childId", "x"), ("entryId", 1),
      ("editableUntil", "2099-01-01T00:00:00Z")]),
    ("PUT /api/v1/parent/children/<child_id>/allergies", "parent", lambda s: {"allergens": ["milk"]},
     [("updatedAt", "2020-01-01T00:00:00Z"), ("childId", "x")]),
    # Accepting a voucher: its status, the time, who answered and the validity are the service's.
    ("POST /api/v1/parent/vouchers/<voucher_id>/accept", "parent", lambda s: {"consentTextVersion": "2026-1"},
     [("status", "active"), ("at", "2020-01-01T00:00:00Z"), ("parentIin", "000000000000"),
      ("validFrom", "2020-01-01"), ("childId", "x")]),
    # An eligibility list: who sent it and when, and the spans it sets, are the service's.
    ("POST /api/v1/auditor/schools/<school_bin>/eligibility-lists", "operator",
     lambda s: {"month": s.month, "pupils": [{"iin": s.world.eligible[0].iin, "category": "primary_grades"}]},
     [("submittedBy", "someone"), ("schoolBin", "150340001500"), ("pupils/0/validFrom", "2020-01-01"),
      ("pupils/0/validTo", "2099-01-01")]),
    # A supplier's claim: the ledger decides what is billable and at what price (members of a line).
    ("POST /api/v1/auditor/claims", "supplier", lambda s: {"lines": [_claim_line(s)]},
     [("lines/0/verdict", "billable"), ("lines/0/priceTiyn", 1), ("lines/0/category", "orphan")]),
    # Closing a period: who and when are the service's.
    ("POST /api/v1/auditor/periods", "operator", lambda s: {"region": s.region, "month": s.last_month},
     [("closedAt", "2020-01-01T00:00:00Z"), ("closedBy", "someone-else")]),
]


def _smuggle(body: dict[str, Any], member: str, value: Any) -> dict[str, Any]:
    """The body with `member` (a path like lines/0/verdict) set to `value`."""
    *parents, name = member.split("/")
    target: Any = body
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    target[name] = value
    return body


def test_members_a_client_may_not_set_are_refused_and_nothing_is_stored(client, sec, session_factory):
    from wallet.terminals import create_enrollment_code

    with session_factory() as session:
        sec.enrollment_code = create_enrollment_code(session, sec.school)[0]  # type: ignore[attr-defined]
    before = state(session_factory)
    failures = []
    cases = [(name, who, make, member, value) for name, who, make, members in TABLE for member, value in members]
    for name, who, make, member, value in cases:
        r = route(name)
        body = _smuggle(make(sec), member, value)
        try:
            response = send(client, r, sec, None if who == "anonymous" else who, body=body, check=True)
        except AssertionError as exc:
            failures.append(f"{member}: {exc}")
            continue
        answer = response.get_json(silent=True) or {}
        fields = {error.get("field", "").removeprefix("body/") for error in answer.get("errors", [])}
        if response.status_code != 422:
            failures.append(f"{name} with {member}: {response.status_code} {answer}")
        elif not any(field == member or field.endswith(f"/{member}") for field in fields):
            failures.append(f"{name} with {member}: the 422 does not name it: {sorted(fields)}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before
    # The enrollment code was not spent by the refused attempts: it still enrols, at its own school.
    response = client.post("/api/v1/terminal/enroll", json={"code": sec.enrollment_code,  # type: ignore[attr-defined]
                                                            "publicKey": sec.terminal_b.public_b64})
    assert response.status_code == 201 and response.get_json()["schoolBin"] == sec.school
    with session_factory() as session:
        assert session.scalar(select(Terminal.status).where(Terminal.id == sec.terminal_b.terminal_id)) == "active"
