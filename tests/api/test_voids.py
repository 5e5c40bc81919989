"""Voiding a meal appends a reversal that points at it; who may void, and what cannot be voided."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from api.auth import dev_idp
from tests.factories import an_iin, batch, meal_event
from wallet.models import LedgerEntry


def staff(settings, role: str = "operator", subject: str = "op-1", **claims) -> dict[str, str]:
    return {"Authorization": "Bearer " + dev_idp.issue_token(settings, subject, {"role": role, **claims})}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body


def count(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry))


def void_url(entry_id: int) -> str:
    return f"/api/v1/admin/entries/{entry_id}/void"


@pytest.fixture
def meal(checked, world, terminal_key) -> dict:
    """A billable lunch of the first eligible pupil, as its result came back to the terminal."""
    response = checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                            headers=terminal_key.headers())
    result = response.get_json()["results"][0]
    assert result["verdict"] == "billable"
    return result


def test_an_operator_voids_a_meal(checked, settings, session_factory, world, terminal_key, meal):
    response = checked.post(void_url(meal["entryId"]), json={"reason": "served twice by mistake"},
                            headers=staff(settings))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["refersTo"] == meal["entryId"] and body["entryId"] != meal["entryId"]
    assert body["position"] == meal["position"] + 1
    assert body["priceTiyn"] == world.price["lunch"]
    with session_factory() as session:
        void = session.get(LedgerEntry, body["entryId"])
        assert void.kind == "void" and void.actor == "operator:op-1" and void.note == "served twice by mistake"
        assert void.leaf_hash.hex() == body["leafHash"] and void.school_id == world.school.id
    # The slot is free again: the pupil's lunch today can be recorded as billable once more.
    again = checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 2)),
                         headers=terminal_key.headers())
    assert again.get_json()["results"][0]["verdict"] == "billable"


def test_a_school_admin_of_the_school_may_void(checked, settings, world, meal):
    headers = staff(settings, "school_admin", "sa-1", school=world.school.bin)
    response = checked.post(void_url(meal["entryId"]), json={"reason": "wrong pupil"}, headers=headers)
    assert response.status_code == 201


def test_a_school_admin_of_another_school_gets_a_404(checked, settings, session_factory, world, meal):
    before = count(session_factory)
    headers = staff(settings, "school_admin", "sa-2", school=world.other_school.bin)
    response = checked.post(void_url(meal["entryId"]), json={"reason": "not mine"}, headers=headers)
    assert_problem(response, 404, "entry_not_found")
    # Without a school claim there is no school to be the administrator of (wallet/principals.py).
    response = checked.post(void_url(meal["entryId"]), json={"reason": "not mine"},
                            headers=staff(settings, "school_admin", "sa-2"))
    assert_problem(response, 403, "forbidden")
    # The same answer as for an entry that does not exist: no hint that it does.
    headers = staff(settings, "school_admin", "sa-2", school=world.other_school.bin)
    missing = checked.post(void_url(meal["entryId"] + 1000), json={"reason": "not mine"}, headers=headers)
    assert_problem(missing, 404, "entry_not_found")
    assert count(session_factory) == before


def test_voiding_twice_is_a_409(checked, settings, session_factory, meal):
    first = checked.post(void_url(meal["entryId"]), json={"reason": "mistake"}, headers=staff(settings))
    assert first.status_code == 201
    before = count(session_factory)
    again = checked.post(void_url(meal["entryId"]), json={"reason": "mistake"}, headers=staff(settings))
    body = assert_problem(again, 409, "already_voided")
    assert str(first.get_json()["entryId"]) in body["detail"]
    # A void cannot itself be voided (that would bring the meal back without a trace of why).
    void_of_void = checked.post(void_url(first.get_json()["entryId"]), json={"reason": "undo"},
                                headers=staff(settings))
    assert_problem(void_of_void, 409, "not_voidable")
    assert count(session_factory) == before


def test_voiding_an_unknown_entry_is_a_404(checked, settings, world):
    assert_problem(checked.post(void_url(999999), json={"reason": "x"}, headers=staff(settings)),
                   404, "entry_not_found")
    assert_problem(checked.post(void_url(0), json={"reason": "x"}, headers=staff(settings)),
                   404, "entry_not_found")


def test_a_refused_meal_can_be_voided_at_no_cost(checked, settings, world, terminal_key):
    response = checked.post("/api/v1/terminal/events", json=batch(meal_event(world.not_eligible, 1)),
                            headers=terminal_key.headers())
    entry_id = response.get_json()["results"][0]["entryId"]
    void = checked.post(void_url(entry_id), json={"reason": "test scan"}, headers=staff(settings))
    assert void.status_code == 201 and void.get_json()["priceTiyn"] == 0


ROLES = {
    # name: (headers from settings and world, status, code)
    "auditor": (lambda s, w: staff(s, "auditor", "au-1", region="KZ-71"), 403, "forbidden"),
    "supplier": (lambda s, w: staff(s, "supplier", "su-1", supplier=w.supplier.bin), 403, "forbidden"),
    "parent": (lambda s, w: {"Authorization": "Bearer " + dev_idp.issue_token(
        s, an_iin(dt.date(1985, 3, 14)), {"role": "parent"})}, 403, "forbidden"),
    "unknown role": (lambda s, w: staff(s, "superuser"), 403, "forbidden"),
    "no role": (lambda s, w: {"Authorization": "Bearer " + dev_idp.issue_token(s, "x")}, 403, "forbidden"),
    "no token": (lambda s, w: {}, 401, "unauthorized"),
    "expired operator": (lambda s, w: {"Authorization": "Bearer " + dev_idp.issue_token(
        s, "op-1", {"role": "operator"}, lifetime=dt.timedelta(minutes=-5))}, 401, "token_expired"),
}


def test_who_may_not_void(checked, settings, session_factory, world, meal):
    before = count(session_factory)
    for case, (make_headers, status, code) in ROLES.items():
        response = checked.post(void_url(meal["entryId"]), json={"reason": "mine now"},
                                headers=make_headers(settings, world))
        assert response.status_code == status, case
        assert_problem(response, status, code)
    assert count(session_factory) == before


def test_a_terminal_token_may_not_void(checked, session_factory, world, terminal_key, meal):
    before = count(session_factory)
    response = checked.post(void_url(meal["entryId"]), json={"reason": "oops"}, headers=terminal_key.headers())
    assert_problem(response, 401, "invalid_token")
    assert count(session_factory) == before


BAD_REASONS = {
    "missing": {},
    "empty": {"reason": ""},
    "only spaces": {"reason": "   "},
    "too long": {"reason": "x" * 501},
    "not a string": {"reason": 42},
    "null": {"reason": None},
    "extra field": {"reason": "ok", "priceTiyn": 0},
}


def test_a_void_needs_a_reason(checked, settings, session_factory, meal):
    before = count(session_factory)
    for case, body in BAD_REASONS.items():
        response = checked.post(void_url(meal["entryId"]), json=body, headers=staff(settings))
        assert response.status_code == 422, case
        assert_problem(response, 422, "validation_failed")
    assert count(session_factory) == before


def test_a_void_body_that_is_not_json_is_refused(checked, settings, session_factory, meal):
    before = count(session_factory)
    assert_problem(checked.post(void_url(meal["entryId"]), data="reason=x", headers=staff(settings),
                                content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    assert_problem(checked.post(void_url(meal["entryId"]), data="{reason", headers=staff(settings),
                                content_type="application/json"), 400, "malformed_json")
    assert_problem(checked.post(void_url(meal["entryId"]), data="[1]", headers=staff(settings),
                                content_type="application/json"), 422, "validation_failed")
    assert count(session_factory) == before
