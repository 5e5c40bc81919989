"""Parents' voucher endpoints: list, read, accept, decline, withdraw; the consent rule on children's data.
Every answer is checked against openapi.yaml."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from tests.parent_factories import (  # noqa: F401 - fixtures
    PARENT_IIN,
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
)
from tests.voucher_factories import CONSENT_VERSION, offers_fixture  # noqa: F401 - fixture
from wallet.models import ChildAccessLog, ConsentText, Voucher, VoucherConsent

V = "/api/v1/parent/vouchers"



def _mine(offers, parent) -> str:  # type: ignore[no-untyped-def]
    return str(offers[parent.child.id])


def test_list_shows_offers_of_own_children_only_without_the_ground(checked, parent, offers, session_factory) -> None:
    response = checked.get(V, headers=parent.headers("en"))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["voucherId"] for i in items] == [_mine(offers, parent)]
    item = items[0]
    assert item["status"] == "offered" and item["canAnswer"] and not item["canWithdraw"]
    assert item["childFirstName"] == "Алихан" and item["consentText"]["version"] == CONSENT_VERSION
    assert item["consentText"]["text"].startswith("I consent")
    assert "ground" not in item and "primary" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    with session_factory() as session:
        assert session.scalars(select(ChildAccessLog.action)).all() == ["vouchers"]


def test_detail_shows_the_ground_to_the_parent(checked, parent, offers) -> None:
    response = checked.get(f"{V}/{_mine(offers, parent)}", headers=parent.headers("ru"))
    assert response.status_code == 200
    assert response.get_json()["ground"]["name"]
    assert response.get_json()["consentText"]["text"].startswith("Я даю согласие")


def test_accept_then_again_then_withdraw(checked, parent, offers, session_factory) -> None:
    url = f"{V}/{_mine(offers, parent)}"
    accepted = checked.post(f"{url}/accept", headers=parent.headers(), json={"consentTextVersion": CONSENT_VERSION})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    body = accepted.get_json()
    assert body["status"] == "active" and body["canWithdraw"]
    assert body["lastAnswer"]["decision"] == "accepted" and body["lastAnswer"]["isYou"]
    assert_problem(checked.post(f"{url}/accept", headers=parent.headers(),
                                json={"consentTextVersion": CONSENT_VERSION}), 409, "voucher_already_accepted")
    assert_problem(checked.post(f"{url}/decline", headers=parent.headers()), 409, "voucher_already_accepted")
    withdrawn = checked.post(f"{url}/withdraw", headers=parent.headers())
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert_problem(checked.post(f"{url}/withdraw", headers=parent.headers()), 409, "voucher_withdrawn")
    with session_factory() as session:
        actions = session.scalars(select(ChildAccessLog.action).order_by(ChildAccessLog.id)).all()
        assert actions == ["voucher_accept", "voucher_withdraw"]
        assert [c.decision for c in session.scalars(select(VoucherConsent).order_by(VoucherConsent.id))] == [
            "accepted", "withdrawn"]


def test_decline_then_accept(checked, parent, offers) -> None:
    url = f"{V}/{_mine(offers, parent)}"
    declined = checked.post(f"{url}/decline", headers=parent.headers())
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    assert_problem(checked.post(f"{url}/accept", headers=parent.headers(),
                                json={"consentTextVersion": CONSENT_VERSION}), 409, "voucher_declined")
    assert_problem(checked.post(f"{url}/withdraw", headers=parent.headers()), 409, "voucher_declined")


def test_withdraw_an_offer_is_refused(checked, parent, offers) -> None:
    assert_problem(checked.post(f"{V}/{_mine(offers, parent)}/withdraw", headers=parent.headers()), 409,
                   "voucher_not_accepted")


def test_after_the_offer_expired(checked, parent, offers, session_factory) -> None:
    with session_factory() as session:
        session.execute(update(Voucher).values(offer_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        session.commit()
    url = f"{V}/{_mine(offers, parent)}"
    assert_problem(checked.post(f"{url}/accept", headers=parent.headers(),
                                json={"consentTextVersion": CONSENT_VERSION}), 409, "offer_expired")
    assert_problem(checked.post(f"{url}/decline", headers=parent.headers()), 409, "offer_expired")
    assert checked.get(url, headers=parent.headers()).get_json()["canAnswer"] is False


def test_a_wrong_or_old_consent_version(checked, parent, offers, session_factory) -> None:
    url = f"{V}/{_mine(offers, parent)}/accept"
    assert_problem(checked.post(url, headers=parent.headers(), json={"consentTextVersion": "1999-1"}), 409,
                   "consent_text_outdated")
    with session_factory() as session:
        session.add(ConsentText(version="2026-2", text_kk="kk", text_ru="ru", text_en="en v2",
                                published_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)))
        session.commit()
    assert_problem(checked.post(url, headers=parent.headers(), json={"consentTextVersion": CONSENT_VERSION}), 409,
                   "consent_text_outdated")
    ok = checked.post(url, headers=parent.headers("en"), json={"consentTextVersion": "2026-2"})
    assert ok.status_code == 200 and ok.get_json()["lastAnswer"]["consentTextVersion"] == "2026-2"


@pytest.mark.parametrize("body", [{}, {"consentTextVersion": ""}, {"consentTextVersion": 7},
                                  {"consentTextVersion": "x" * 33}, [], "2026-1"])
def test_bad_accept_bodies(checked, parent, offers, body) -> None:  # type: ignore[no-untyped-def]
    assert_problem(checked.post(f"{V}/{_mine(offers, parent)}/accept", headers=parent.headers(), json=body), 422,
                   "validation_failed")


def test_wrong_content_type_and_bad_json(checked, parent, offers) -> None:
    url = f"{V}/{_mine(offers, parent)}/accept"
    assert_problem(checked.post(url, headers=parent.headers(), data="consentTextVersion=2026-1",
                                content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    assert_problem(checked.post(url, headers=parent.headers(), data="{", content_type="application/json"), 400,
                   "malformed_json")


@pytest.mark.parametrize("suffix,method", [("", "get"), ("/accept", "post"), ("/decline", "post"),
                                           ("/withdraw", "post")])
def test_other_parents_voucher_is_the_same_404_as_none(checked, parent, offers, other_parent, suffix,
                                                       method) -> None:  # type: ignore[no-untyped-def]
    theirs = str(offers[other_parent.child.id])
    kwargs = {"json": {"consentTextVersion": CONSENT_VERSION}} if suffix == "/accept" else {}
    bodies = []
    for vid in (theirs, str(uuid.uuid4()), "not-a-uuid", "x" * 60):
        response = getattr(checked, method)(f"{V}/{vid}{suffix}", headers=parent.headers(), **kwargs)
        body = assert_problem(response, 404, "voucher_not_found")
        bodies.append(body)
    assert len({(b["detail"], b["instance"]) for b in bodies}) == 1


def test_without_a_token(checked, offers, parent) -> None:
    assert_problem(checked.get(V), 401, "unauthorized")
    assert_problem(checked.post(f"{V}/{_mine(offers, parent)}/decline"), 401, "unauthorized")


def test_staff_tokens_are_not_parents(checked, offers, parent, settings) -> None:
    from tests.parent_factories import staff_headers

    assert checked.get(V, headers=staff_headers(settings, "operator")).status_code == 401


# --- the consent rule on the children endpoints ----------------------------------------------------------------


def test_children_without_consent_show_the_offer_only(checked, parent, offers) -> None:
    listed = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"]
    assert len(listed) == 1
    child = listed[0]
    assert child["voucherStatus"] == "offered" and child["today"] is None and child["className"] is None
    assert child["school"]["bin"]
    for suffix in ("/meals/today", "/meals", "/menu", "/allergies"):
        assert_problem(checked.get(parent.url(suffix), headers=parent.headers()), 403, "consent_required")
    assert_problem(checked.put(parent.url("/allergies"), headers=parent.headers(), json={"allergens": []}), 403,
                   "consent_required")
    log = checked.get(parent.url("/access-log"), headers=parent.headers())
    assert log.status_code == 200
    assert [item["action"] for item in log.get_json()["items"]] == ["children"]  # refused reads are not reads


# Each case: the child's vouchers, one school year apart (status, whether an accepted consent was given), and
# whether its data are shown. The rule: consent holding now, or an accepted voucher expired and none withdrawn.
CONSENT_CASES = [
    ([], True),
    ([("offered", False)], False),
    ([("declined", False)], False),
    ([("accepted", True)], True),
    ([("active", True)], True),
    ([("suspended", True)], True),
    ([("withdrawn", True)], False),
    ([("expired", True)], True),
    ([("expired", False)], False),
    ([("expired", True), ("withdrawn", True)], False),
    ([("expired", True), ("offered", False)], True),
    ([("withdrawn", True), ("active", True)], True),
]


@pytest.mark.parametrize(("vouchers", "shown"), CONSENT_CASES,
                         ids=["+".join(s for s, _ in v) or "none" for v, _ in CONSENT_CASES])
def test_the_consent_rule(checked, parent, session_factory, world, vouchers, shown) -> None:
    from tests.voucher_factories import voucher_for

    with session_factory() as session:
        for years_back, (status, consented) in enumerate(vouchers):
            day = world.today.replace(year=world.today.year - years_back)
            voucher = voucher_for(session, parent.child, world.school.id, status, today=day)
            if consented:
                session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=PARENT_IIN, decision="accepted",
                                           text_version=CONSENT_VERSION, at=dt.datetime.now(dt.UTC)))
                session.commit()
    today = checked.get(parent.url("/meals/today"), headers=parent.headers())
    if shown:
        assert today.status_code == 200, today.get_json()
    else:
        assert_problem(today, 403, "consent_required")
    listed = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"][0]
    assert (listed["today"] is not None) is shown


def test_children_with_consent_show_everything(checked, parent, offers) -> None:
    checked.post(f"{V}/{_mine(offers, parent)}/accept", headers=parent.headers(),
                 json={"consentTextVersion": CONSENT_VERSION})
    child = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"][0]
    assert child["voucherStatus"] == "active" and child["today"] is not None and child["className"] == "2А"
    assert checked.get(parent.url("/meals/today"), headers=parent.headers()).status_code == 200


def test_children_without_vouchers_are_shown_as_before(checked, parent) -> None:
    child = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"][0]
    assert child["voucherStatus"] is None and child["today"] is not None


def test_offers_reach_the_notification_poll(checked, parent, offers) -> None:
    items = checked.get("/api/v1/parent/notifications", headers=parent.headers()).get_json()["items"]
    assert items == [{"childId": parent.child_id, "childFirstName": "Алихан", "kind": "voucher_offered",
                      "voucherId": _mine(offers, parent)}]


def test_parent_iin_is_never_in_answers(checked, parent, offers) -> None:
    url = f"{V}/{_mine(offers, parent)}"
    text = checked.post(f"{url}/accept", headers=parent.headers(),
                        json={"consentTextVersion": CONSENT_VERSION}).get_data(as_text=True)
    assert PARENT_IIN not in text and str(parent.child.iin) not in text


def test_offers_reach_the_event_stream(app, checked, parent, offers) -> None:
    import json

    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.2, WALLET_PARENT_STREAM_POLL_S=0.05)
    body = checked.get("/api/v1/parent/notifications/stream", headers=parent.headers()).get_data(as_text=True)
    events = [block for block in body.split("\n\n") if "event: " in block]
    assert len(events) == 1 and "event: voucher" in events[0]
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["kind"] == "voucher_offered" and data["voucherId"] == _mine(offers, parent)


def test_a_pending_offer_for_next_year_does_not_hide_a_consented_child(checked, parent, session_factory,
                                                                       world) -> None:
    from tests.voucher_factories import voucher_for

    with session_factory() as session:
        active = voucher_for(session, parent.child, world.school.id, "active", today=world.today,
                             parent_iin=PARENT_IIN)
        voucher_for(session, parent.child, world.school.id, "offered",
                    today=world.today.replace(year=world.today.year + 1))
    child = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"][0]
    assert child["voucherStatus"] == "offered" and child["today"] is not None
    assert checked.post(f"{V}/{active.id}/withdraw", headers=parent.headers()).status_code == 200
    child = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"][0]
    assert child["today"] is None
    assert_problem(checked.get(parent.url("/meals"), headers=parent.headers()), 403, "consent_required")


def test_meals_of_a_child_without_consent_are_not_notified(checked, parent, offers, meals) -> None:
    meals.record(parent.child)
    items = checked.get("/api/v1/parent/notifications", headers=parent.headers()).get_json()["items"]
    assert [i["kind"] for i in items] == ["voucher_offered"]
    checked.post(f"{V}/{_mine(offers, parent)}/accept", headers=parent.headers(),
                 json={"consentTextVersion": CONSENT_VERSION})
    meals.record(parent.child, meal_type="breakfast")
    items = checked.get("/api/v1/parent/notifications", headers=parent.headers()).get_json()["items"]
    assert [i["kind"] for i in items] == ["voucher_offered", "meal", "meal"]  # consent shows the earlier meal too
