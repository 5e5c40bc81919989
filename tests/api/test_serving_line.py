"""The serving line on the service's side: allergens in the roster (only this school's consented pupils), the
roster's next serving days, the confirmed allergen warning on events and in the hashed entry (old entries
unchanged), the parent's history and the console's count of them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from tests.factories import batch, meal_event
from tests.parent_factories import parent_fixture, staff_headers  # noqa: F401
from tests.voucher_factories import voucher_for
from wallet.console.school_day import school_day
from wallet.ledger.verify import verify_chain
from wallet.models import CalendarDay, ChildAllergy, LedgerEntry, Menu, MenuDish, School, Terminal

ROSTER = "/api/v1/terminal/roster"
EVENTS = "/api/v1/terminal/events"
CONFIRMED = {"shown": True, "confirmed": True}


def _allergy(session, student, codes: str) -> None:  # type: ignore[no-untyped-def]
    session.add(ChildAllergy(student_id=student.id, allergens=codes, updated_at=dt.datetime.now(dt.UTC),
                             updated_by="000000000000"))
    session.commit()


def _roster(checked, terminal_key):  # type: ignore[no-untyped-def]
    response = checked.get(ROSTER, headers=terminal_key.headers())
    assert response.status_code == 200
    return response.get_json()


def test_the_roster_carries_allergens_only_of_this_schools_consented_pupils(checked, session_factory, world,
                                                                            terminal_key):
    consented, offered_only, no_voucher, no_allergies = world.eligible[:4]
    with session_factory() as session:
        kept = voucher_for(session, consented, world.school.id, "active", today=world.today, parent_iin="x" * 12)
        voucher_for(session, offered_only, world.school.id, "offered", today=world.today)
        voucher_for(session, no_allergies, world.school.id, "active", today=world.today)
        voucher_for(session, world.elsewhere, world.other_school.id, "active", today=world.today)
        for student in (consented, offered_only, no_voucher, world.elsewhere):
            _allergy(session, student, "milk,nuts")
        _allergy(session, no_allergies, "")
    body = _roster(checked, terminal_key)
    assert body["allergies"] == {str(consented.id): ["milk", "nuts"]}
    assert body["voucherAllergies"] == {str(kept.id): ["milk", "nuts"]}
    text = json.dumps(body)
    for student in (offered_only, no_voucher, world.elsewhere):
        assert str(student.id) not in text.split('"allergies"')[1].split('"calendar"')[0]
    assert str(world.elsewhere.id) not in text  # another school's pupil appears nowhere


def test_the_roster_carries_the_next_seven_serving_days(checked, session_factory, world, terminal_key):
    days = [world.today + dt.timedelta(days=n) for n in range(1, 12)]
    with session_factory() as session:
        for n, day in enumerate(days):
            kind = "holiday" if n in (2, 3) else "serving"
            session.add(CalendarDay(school_id=world.school.id, day=day, kind=kind))
            session.add(Menu(school_id=world.school.id, day=day, meal_type="lunch", dishes=[
                MenuDish(position=1, name_kk=f"Ас {n}", name_ru=f"Блюдо {n}", name_en=f"Dish {n}", grams=200,
                         kcal=300, allergens="milk" if n == 1 else "")]))
        session.commit()
    first = checked.get(ROSTER, headers=terminal_key.headers())
    body = first.get_json()
    week = body["week"]
    expected = [world.today, *[d for n, d in enumerate(days) if n not in (2, 3)]][:7]
    assert [w["servingDay"] for w in week] == [d.isoformat() for d in expected]
    assert body["weekThrough"] == expected[-1].isoformat()
    assert [c["kind"] for c in body["calendar"]][3:5] == ["holiday", "holiday"]
    assert week[2]["menu"][0]["dishes"][0]["allergens"] == ["milk"]
    eligible = {str(s.id) for s in world.eligible}
    for entry in week:
        free = {p["studentId"] for p in entry["students"] if p["freeMealToday"]}
        assert free == eligible
        assert all("displayName" not in p for p in entry["students"])
    # A change to a later day's menu is a new roster (ETag).
    with session_factory() as session:
        menu = session.scalars(select(Menu).where(Menu.day == expected[5])).one()
        session.add(MenuDish(menu_id=menu.id, position=2, name_kk="Шырын", name_ru="Сок", name_en="Juice",
                             grams=200, kcal=90, allergens=""))
        session.commit()
    again = checked.get(ROSTER, headers={**terminal_key.headers(), "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]


def test_a_confirmed_warning_is_hashed_in_the_entry_and_old_entries_stay_as_they_were(
        checked, session_factory, world, terminal_key, settings):
    plain = meal_event(world.eligible[0], 1)
    warned = {**meal_event(world.eligible[1], 2), "allergenWarning": CONFIRMED}
    response = checked.post(EVENTS, json=batch(plain, warned), headers=terminal_key.headers())
    assert [r["status"] for r in response.get_json()["results"]] == ["recorded", "recorded"]
    with session_factory() as session:
        entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.position)))
        assert [e.allergen_warning for e in entries] == [None, "confirmed"]
        assert "allergenWarning" not in json.loads(entries[0].payload)  # the format of every earlier entry
        assert json.loads(entries[1].payload)["allergenWarning"] == "confirmed"
        assert verify_chain(session, world.school.id, {}).ok
    # The warning is part of the event's content: the same id without it is a conflict, with it a replay.
    replay = checked.post(EVENTS, json=batch(warned), headers=terminal_key.headers()).get_json()["results"][0]
    assert replay["status"] == "replayed"
    changed = {k: v for k, v in warned.items() if k != "allergenWarning"}
    conflict = checked.post(EVENTS, json=batch(changed), headers=terminal_key.headers()).get_json()["results"][0]
    assert conflict["status"] == "conflict" and conflict["code"] == "event_id_reused"


def test_an_unconfirmed_warning_records_no_meal(checked, session_factory, world, terminal_key):
    cases = [{"shown": True, "confirmed": False}, {"shown": False, "confirmed": True}, {"shown": "yes",
                                                                                        "confirmed": True}, {}]
    events = [{**meal_event(world.eligible[n], n + 1), "allergenWarning": w} for n, w in enumerate(cases)]
    good = meal_event(world.eligible[4], 9)
    response = checked.post(EVENTS, json=batch(*events, good), headers=terminal_key.headers())
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["invalid"] * 4 + ["recorded"]
    assert results[0]["errors"][0]["field"].startswith("events/0/allergenWarning")
    with session_factory() as session:
        assert session.scalars(select(LedgerEntry.device_seq)).all() == [9]


def test_the_parent_sees_the_warning_and_the_console_counts_it(checked, session_factory, world, terminal_key,
                                                                parent):
    warned = {**meal_event(parent.child, 1), "allergenWarning": CONFIRMED}
    other = meal_event(world.eligible[1], 2)
    checked.post(EVENTS, json=batch(warned, other), headers=terminal_key.headers())
    history = checked.get(parent.url(f"/meals?from={world.today}&to={world.today}"), headers=parent.headers())
    assert [i["allergenWarningConfirmed"] for i in history.get_json()["items"]] == [True]
    with session_factory() as session:
        school = session.get(School, world.school.id)
        assert school_day(session, school, world.today, dt.datetime.now(dt.UTC)).allergen_warnings == 1


def test_the_admin_api_shows_the_reported_backlog_and_flags_it(checked, session_factory, world, terminal_key,
                                                              settings):
    now = dt.datetime.now(dt.UTC)
    body = batch(meal_event(world.eligible[0], 1))
    body["backlog"] = {"queued": 3, "oldestServedAt": (now - dt.timedelta(days=2)).isoformat()}
    assert checked.post(EVENTS, json=body, headers=terminal_key.headers()).status_code == 200
    with session_factory() as session:
        terminal = session.get(Terminal, terminal_key.terminal_id)
        assert terminal.backlog_count == 3
    items = checked.get("/api/v1/admin/terminals", headers=staff_headers(settings, "operator")).get_json()["items"]
    backlog = items[0]["backlog"]
    assert backlog["queued"] == 3 and backlog["flagged"] is True and backlog["ageS"] >= 2 * 86400 - 5
    assert backlog["silentS"] < 60
    # Everything uploaded: nothing to flag.
    body = batch(meal_event(world.eligible[1], 2))
    body["backlog"] = {"queued": 0, "oldestServedAt": None}
    checked.post(EVENTS, json=body, headers=terminal_key.headers())
    items = checked.get("/api/v1/admin/terminals", headers=staff_headers(settings, "operator")).get_json()["items"]
    assert items[0]["backlog"]["queued"] == 0 and items[0]["backlog"]["flagged"] is False


@pytest.mark.parametrize("queued", [-1, 2**31, 2**53 - 1, 2**63, "3", True, 1.5, None])
def test_a_backlog_out_of_range_or_of_another_type_is_refused_with_a_problem(checked, session_factory, world,
                                                                             terminal_key, queued):
    body = batch(meal_event(world.eligible[0], 1))
    body["backlog"] = {"queued": queued}
    answer = checked.post(EVENTS, json=body, headers=terminal_key.headers())
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json", answer.get_data()[:300]
    assert [e["field"] for e in answer.get_json()["errors"]] == ["backlog/queued"]
    with session_factory() as session:
        assert session.get(Terminal, terminal_key.terminal_id).backlog_count is None


def test_the_largest_backlog_is_stored(checked, session_factory, world, terminal_key):
    body = batch(meal_event(world.eligible[0], 1))
    body["backlog"] = {"queued": 2**31 - 1}
    assert checked.post(EVENTS, json=body, headers=terminal_key.headers()).status_code == 200
    with session_factory() as session:
        assert session.get(Terminal, terminal_key.terminal_id).backlog_count == 2**31 - 1
