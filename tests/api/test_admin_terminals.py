"""Operators register, list and revoke terminals and see their deviceSeq gaps."""

import base64
import datetime as dt

from sqlalchemy import func, select

from api.auth import dev_idp
from tests.factories import TerminalKey, a_bin, an_iin, batch, meal_event
from wallet.models import Terminal

TERMINALS = "/api/v1/admin/terminals"


def staff(settings, role: str = "operator", subject: str = "op-1", **claims) -> dict[str, str]:
    return {"Authorization": "Bearer " + dev_idp.issue_token(settings, subject, {"role": role, **claims})}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body


def terminal_count(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Terminal))


def register(checked, settings, world, key: TerminalKey, **extra):
    body = {"schoolBin": world.school.bin, "publicKey": key.public_b64, "terminalId": key.terminal_id, **extra}
    return checked.post(TERMINALS, json=body, headers=staff(settings))


# -- register ---------------------------------------------------------------------------------------------

def test_an_operator_registers_a_terminal_that_can_then_sign_in(checked, settings, world):
    key = TerminalKey("T-new-1")
    response = register(checked, settings, world, key, label="Canteen, line 1")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["terminalId"] == "T-new-1" and body["schoolBin"] == world.school.bin
    assert body["publicKey"] == key.public_b64 and body["status"] == "active"
    assert body["label"] == "Canteen, line 1" and body["revokedAt"] is None and body["lastContactAt"] is None
    assert checked.get("/api/v1/terminal/roster", headers=key.headers()).status_code == 200


def test_a_generated_id_when_none_is_given(checked, settings, world):
    key = TerminalKey()
    response = checked.post(TERMINALS, json={"schoolBin": world.school.bin, "publicKey": key.public_b64},
                            headers=staff(settings))
    assert response.status_code == 201
    assert response.get_json()["terminalId"].startswith("T-")


def test_a_key_in_standard_base64_with_padding_is_stored_as_base64url(checked, settings, world):
    raw = base64.urlsafe_b64decode(TerminalKey().public_b64 + "=")
    response = checked.post(TERMINALS, headers=staff(settings), json={
        "schoolBin": world.school.bin, "publicKey": base64.b64encode(raw).decode(), "terminalId": "T-std"})
    assert response.status_code == 201
    assert response.get_json()["publicKey"] == base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_duplicate_terminal_id_is_a_409(checked, settings, session_factory, world, terminal_key):
    response = register(checked, settings, world, TerminalKey(terminal_key.terminal_id))
    assert_problem(response, 409, "terminal_exists")
    assert terminal_count(session_factory) == 1


def test_an_unknown_school_is_a_404(checked, settings, session_factory, world):
    response = checked.post(TERMINALS, headers=staff(settings), json={
        "schoolBin": a_bin(9), "publicKey": TerminalKey().public_b64, "terminalId": "T-x-1"})
    assert_problem(response, 404, "school_not_found")
    assert terminal_count(session_factory) == 0


BAD_KEYS = {
    "not base64": ("!" * 43, "invalid_public_key"),
    "too long for ed25519": ("A" * 64, "invalid_public_key"),
    "33 bytes": ("A" * 44, "invalid_public_key"),
    "too short": ("AAAA", "validation_failed"),
    "a PEM document": ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA" + "A" * 43 + "\n-----END PUBLIC KEY-----",
                       "validation_failed"),
}


def test_a_bad_public_key_is_a_422(checked, settings, session_factory, world):
    for case, (public_key, code) in BAD_KEYS.items():
        response = checked.post(TERMINALS, headers=staff(settings), json={
            "schoolBin": world.school.bin, "publicKey": public_key, "terminalId": "T-bad-key"})
        assert response.status_code == 422, case
        assert_problem(response, 422, code)
    assert terminal_count(session_factory) == 0


BAD_BODIES = {
    "bad terminal id": ({"terminalId": "bad id!"}, "terminalId"),
    "terminal id too short": ({"terminalId": "ab"}, "terminalId"),
    "bad school BIN": ({"schoolBin": "12345"}, "schoolBin"),
    "unknown field": ({"status": "revoked"}, "status"),
    "label too long": ({"label": "x" * 101}, "label"),
}


def test_a_bad_registration_is_a_422(checked, settings, session_factory, world):
    for case, (changes, field) in BAD_BODIES.items():
        body = {"schoolBin": world.school.bin, "publicKey": TerminalKey().public_b64, "terminalId": "T-ok-1",
                **changes}
        response = checked.post(TERMINALS, json=body, headers=staff(settings))
        problem = assert_problem(response, 422, "validation_failed")
        assert field in {e["field"] for e in problem["errors"]}, case
    assert terminal_count(session_factory) == 0


def test_a_registration_that_is_not_json_is_refused(checked, settings, world):
    assert_problem(checked.post(TERMINALS, data="x", content_type="text/plain", headers=staff(settings)),
                   415, "unsupported_media_type")
    assert_problem(checked.post(TERMINALS, data="{", content_type="application/json", headers=staff(settings)),
                   400, "malformed_json")


# -- who may -----------------------------------------------------------------------------------------------

def test_only_operators_manage_terminals(checked, settings, world, terminal_key):
    body = {"schoolBin": world.school.bin, "publicKey": TerminalKey().public_b64, "terminalId": "T-who"}
    for role, claims in [("auditor", {"region": "KZ-71"}), ("school_admin", {"school": world.school.bin}),
                         ("supplier", {"supplier": world.supplier.bin})]:
        headers = staff(settings, role, **claims)
        assert_problem(checked.get(TERMINALS, headers=headers), 403, "forbidden")
        assert_problem(checked.post(TERMINALS, json=body, headers=headers), 403, "forbidden")
        assert_problem(checked.post(f"{TERMINALS}/{terminal_key.terminal_id}/revoke", headers=headers),
                       403, "forbidden")
        assert_problem(checked.get(f"{TERMINALS}/{terminal_key.terminal_id}/gaps", headers=headers),
                       403, "forbidden")
    parent = {"Authorization": "Bearer " + dev_idp.issue_token(settings, an_iin(dt.date(1985, 3, 14)),
                                                               {"role": "parent"})}
    assert_problem(checked.get(TERMINALS, headers=parent), 403, "forbidden")
    assert_problem(checked.get(TERMINALS), 401, "unauthorized")
    assert_problem(checked.get(TERMINALS, headers=terminal_key.headers()), 401, "invalid_token")


def test_a_staff_token_for_another_audience_or_expired_is_refused(checked, settings, world):
    wrong_aud = dev_idp.issue_token(settings, "op-1", {"role": "operator", "aud": "someone-else"})
    assert_problem(checked.get(TERMINALS, headers={"Authorization": f"Bearer {wrong_aud}"}), 401, "invalid_token")
    expired = dev_idp.issue_token(settings, "op-1", {"role": "operator"}, lifetime=dt.timedelta(minutes=-5))
    assert_problem(checked.get(TERMINALS, headers={"Authorization": f"Bearer {expired}"}), 401, "token_expired")


# -- list, revoke --------------------------------------------------------------------------------------------

def test_the_list_shows_every_terminal_with_its_school(checked, settings, session_factory, world, terminal_key):
    other = TerminalKey("T-other-school")
    with session_factory() as session:
        other.register(session, world.other_school)
    response = checked.get(TERMINALS, headers=staff(settings))
    assert response.status_code == 200
    items = {t["terminalId"]: t for t in response.get_json()["items"]}
    assert set(items) == {terminal_key.terminal_id, "T-other-school"}
    assert items[terminal_key.terminal_id]["schoolBin"] == world.school.bin
    assert items["T-other-school"]["schoolBin"] == world.other_school.bin
    assert all(t["status"] == "active" for t in items.values())


def test_the_list_shows_last_contact_after_an_upload(checked, settings, world, terminal_key):
    checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                 headers=terminal_key.headers())
    item = checked.get(TERMINALS, headers=staff(settings)).get_json()["items"][0]
    assert item["lastContactAt"] is not None and isinstance(item["clockOffsetMs"], int)


def test_a_revoked_terminal_is_refused_at_once_and_cannot_be_revoked_twice(checked, settings, world,
                                                                            terminal_key):
    assert checked.get("/api/v1/terminal/roster", headers=terminal_key.headers()).status_code == 200
    response = checked.post(f"{TERMINALS}/{terminal_key.terminal_id}/revoke", headers=staff(settings))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "revoked" and body["revokedAt"] and body["schoolBin"] == world.school.bin
    assert_problem(checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                                headers=terminal_key.headers()), 403, "terminal_revoked")
    assert_problem(checked.get("/api/v1/terminal/roster", headers=terminal_key.headers()), 403, "terminal_revoked")
    again = checked.post(f"{TERMINALS}/{terminal_key.terminal_id}/revoke", headers=staff(settings))
    assert_problem(again, 409, "terminal_already_revoked")
    listed = checked.get(TERMINALS, headers=staff(settings)).get_json()["items"]
    assert [t["status"] for t in listed] == ["revoked"]


def test_revoking_an_unknown_terminal_is_a_404(checked, settings, world):
    assert_problem(checked.post(f"{TERMINALS}/T-nobody/revoke", headers=staff(settings)), 404, "terminal_not_found")


# -- gaps ------------------------------------------------------------------------------------------------

def test_gaps_in_device_seq_are_reported(checked, settings, world, terminal_key):
    events = [meal_event(world.eligible[n % 5], seq, meal_type=("breakfast", "lunch")[n % 2])
              for n, seq in enumerate([1, 2, 5, 9])]
    # Out of order on purpose: the gaps do not depend on the order in which events arrive.
    response = checked.post("/api/v1/terminal/events", json=batch(*reversed(events)),
                            headers=terminal_key.headers())
    assert response.get_json()["summary"]["recorded"] == 4
    gaps = checked.get(f"{TERMINALS}/{terminal_key.terminal_id}/gaps", headers=staff(settings))
    assert gaps.status_code == 200
    assert gaps.get_json() == {"terminalId": terminal_key.terminal_id, "highestSeq": 9, "missing": 5,
                               "gaps": [{"from": 3, "to": 4}, {"from": 6, "to": 8}]}


def test_a_gap_at_the_start_and_filled_gaps(checked, settings, world, terminal_key):
    url = f"{TERMINALS}/{terminal_key.terminal_id}/gaps"
    checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 4)),
                 headers=terminal_key.headers())
    assert checked.get(url, headers=staff(settings)).get_json()["gaps"] == [{"from": 1, "to": 3}]
    checked.post("/api/v1/terminal/events", headers=terminal_key.headers(),
                 json=batch(*(meal_event(world.eligible[s], s) for s in (1, 2, 3))))
    body = checked.get(url, headers=staff(settings)).get_json()
    assert body == {"terminalId": terminal_key.terminal_id, "highestSeq": 4, "missing": 0, "gaps": []}


def test_gaps_are_per_terminal(checked, settings, session_factory, world, terminal_key):
    other = TerminalKey("T-test-2")
    with session_factory() as session:
        other.register(session, world.school)
    checked.post("/api/v1/terminal/events", headers=terminal_key.headers(),
                 json=batch(meal_event(world.eligible[0], 1), meal_event(world.eligible[1], 3)))
    checked.post("/api/v1/terminal/events", headers=other.headers(), json=batch(meal_event(world.eligible[2], 2)))
    mine = checked.get(f"{TERMINALS}/{terminal_key.terminal_id}/gaps", headers=staff(settings)).get_json()
    theirs = checked.get(f"{TERMINALS}/T-test-2/gaps", headers=staff(settings)).get_json()
    assert mine["gaps"] == [{"from": 2, "to": 2}]
    assert theirs["gaps"] == [{"from": 1, "to": 1}] and theirs["highestSeq"] == 2


def test_a_terminal_without_events_has_no_gaps(checked, settings, world, terminal_key):
    body = checked.get(f"{TERMINALS}/{terminal_key.terminal_id}/gaps", headers=staff(settings)).get_json()
    assert body == {"terminalId": terminal_key.terminal_id, "highestSeq": 0, "missing": 0, "gaps": []}


def test_gaps_of_an_unknown_terminal_is_a_404(checked, settings, world):
    assert_problem(checked.get(f"{TERMINALS}/T-nobody/gaps", headers=staff(settings)), 404, "terminal_not_found")
