"""POST /api/v1/parent/children/{childId}/qr and the roster's QR keys, checked against openapi.yaml."""

from __future__ import annotations

import base64

import cbor2
import pytest
from sqlalchemy import select

from tests.parent_factories import assert_problem, other_parent_fixture, parent_fixture  # noqa: F401
from tests.qr_factories import add_voucher, keyring, qr_key
from wallet.models import ChildAccessLog
from wallet.qr.token import decode_token


@pytest.fixture
def voucher(session_factory, world):
    with session_factory() as session:
        return add_voucher(session, world.eligible[0], world.school.id)


def _issue(checked, parent, body=None, child_id=None, **headers):
    url = f"/api/v1/parent/children/{child_id or parent.child_id}/qr"
    return checked.post(url, json={"mealType": "lunch"} if body is None else body, headers=parent.headers(**headers))


def test_a_parent_gets_a_signed_token_that_names_no_child(checked, parent, voucher, world, settings, session_factory):
    response = _issue(checked, parent)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    claims = decode_token(body["token"], keyring(settings))
    assert claims.voucher_id == voucher.id and claims.school_bin == world.school.bin
    assert claims.meal_type == "lunch" and claims.expires - claims.not_before == settings.qr_token_ttl_s
    raw = base64.urlsafe_b64decode(body["token"] + "==")
    payload = cbor2.loads(cbor2.loads(raw).value[2])
    child = world.eligible[0]
    flat = repr(payload).encode() + raw
    for secret in (child.iin, child.first_name, child.last_name, str(child.id), "primary_grades"):
        assert secret.encode() not in flat
    assert child.id.bytes not in raw
    assert len(body["token"]) <= 213  # a version-10 QR code in byte mode at level M
    with session_factory() as session:
        actions = session.scalars(select(ChildAccessLog.action).where(ChildAccessLog.student_id == child.id)).all()
    assert "qr_token" in actions


def test_each_token_is_new(checked, parent, voucher, settings):
    first, second = (_issue(checked, parent).get_json()["token"] for _ in range(2))
    ring = keyring(settings)
    assert decode_token(first, ring).token_id != decode_token(second, ring).token_id


def test_a_shorter_lifetime_may_be_asked_for(checked, parent, voucher, settings):
    response = _issue(checked, parent, {"mealType": "breakfast", "lifetimeS": 60})
    claims = decode_token(response.get_json()["token"], keyring(settings))
    assert claims.expires - claims.not_before == 60 and claims.meal_type == "breakfast"


def test_another_parents_child_is_404(checked, parent, other_parent, voucher):
    response = _issue(checked, parent, child_id=other_parent.child_id)
    assert_problem(response, 404, "child_not_found")
    assert_problem(_issue(checked, parent, child_id="not-a-uuid"), 404, "child_not_found")


def test_a_child_without_an_active_voucher_is_409(checked, parent):
    assert_problem(_issue(checked, parent), 409, "no_active_voucher")


def test_a_suspended_voucher_gives_no_token(checked, parent, session_factory, world):
    with session_factory() as session:
        add_voucher(session, world.eligible[0], world.school.id, status="suspended")
    assert_problem(_issue(checked, parent), 409, "no_active_voucher")


@pytest.mark.parametrize("body", [
    {"mealType": "dinner"}, {}, {"mealType": "lunch", "lifetimeS": 10}, {"mealType": "lunch", "lifetimeS": 3600},
    {"mealType": "lunch", "lifetimeS": "60"}, {"mealType": "lunch", "lifetimeS": True},
    {"mealType": "lunch", "lifetimeS": 60.5}, {"mealType": "lunch", "studentIin": "1"}, [], "lunch",
])
def test_bad_requests_are_422_and_log_nothing(checked, parent, voucher, body, session_factory, world):
    assert_problem(_issue(checked, parent, body), 422, "validation_failed")
    with session_factory() as session:
        assert session.scalars(select(ChildAccessLog.action).where(
            ChildAccessLog.student_id == world.eligible[0].id)).all() == []


def test_without_a_token_is_401(checked, parent, voucher):
    response = checked.post(f"/api/v1/parent/children/{parent.child_id}/qr", json={"mealType": "lunch"})
    assert response.status_code == 401


def test_the_roster_carries_the_qr_public_key(checked, terminal_key, settings):
    first = checked.get("/api/v1/terminal/roster", headers=terminal_key.headers())
    keys = first.get_json()["qrKeys"]
    key = qr_key(settings)
    assert keys == [{"keyId": key.key_id, "alg": "EdDSA",
                     "publicKey": base64.urlsafe_b64encode(key.public_key_raw).rstrip(b"=").decode()}]
    again = checked.get("/api/v1/terminal/roster",
                        headers={**terminal_key.headers(), "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_409_is_in_the_readers_language(checked, parent):
    response = _issue(checked, parent, lang="kk")
    assert response.status_code == 409 and response.get_json()["title"] == "Тегін тамаққа белсенді талон жоқ"
