"""Parents see their own children and today's meals; any other child is the same 404; every read is logged."""

import datetime as dt
import json
import uuid

from sqlalchemy import select

from tests.parent_factories import assert_problem, link, meals_fixture, other_parent_fixture, parent_fixture  # noqa: F401
from tests.request_ids import body_but_id, headers_but_id
from wallet.models import ChildAccessLog


def test_children_lists_only_the_parents_own_children(checked, parent, other_parent, world):
    response = checked.get("/api/v1/parent/children", headers=parent.headers())
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["childId"] for i in items] == [parent.child_id]
    child = items[0]
    assert child["firstName"] == parent.child.first_name and child["relation"] == "mother"
    assert child["school"] == {"bin": world.school.bin, "name": "Школа №1"}
    assert child["className"] == "2А" and child["grade"] == 2 and child["enrolledToday"] is True
    assert child["servedToday"] is False
    assert {m["mealType"]: m["status"] for m in child["today"]["meals"]} == {
        "breakfast": "not_yet", "lunch": "not_yet", "snack": "not_yet"}


def test_a_parent_without_children_gets_an_empty_list(checked, settings, world):
    from tests.factories import an_iin
    from tests.parent_factories import Parent

    stranger = Parent(an_iin(dt.date(1990, 1, 1)), world.eligible[0], settings)
    response = checked.get("/api/v1/parent/children", headers=stranger.headers())
    assert response.status_code == 200 and response.get_json() == {"items": []}


def test_today_shows_a_served_meal_after_it_is_recorded(checked, parent, meals, world):
    result = meals.record(parent.child, meal_type="lunch")
    assert result["verdict"] == "billable"
    response = checked.get(parent.url("/meals/today"), headers=parent.headers())
    assert response.status_code == 200
    body = response.get_json()
    assert body["childId"] == parent.child_id and body["date"] == world.today.isoformat()
    assert body["isServingDay"] is True
    lunch = next(m for m in body["meals"] if m["mealType"] == "lunch")
    assert lunch["status"] == "served" and lunch["entryId"] == result["entryId"] and lunch["servedAt"]
    children = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"]
    assert children[0]["servedToday"] is True


def test_today_for_a_child_who_is_not_eligible(checked, session_factory, settings, world):
    from tests.parent_factories import PARENT_IIN, Parent

    with session_factory() as session:
        link(session, PARENT_IIN, world.not_eligible)
    mother = Parent(PARENT_IIN, world.not_eligible, settings)
    body = checked.get(mother.url("/meals/today"), headers=mother.headers()).get_json()
    assert {m["status"] for m in body["meals"]} == {"not_eligible"}


def test_today_on_a_day_that_is_not_a_serving_day(checked, session_factory, parent, world):
    from wallet.models import CalendarDay

    with session_factory() as session:
        day = session.scalars(select(CalendarDay).where(CalendarDay.school_id == world.school.id,
                                                        CalendarDay.day == world.today)).one()
        day.kind = "holiday"
        session.commit()
    body = checked.get(parent.url("/meals/today"), headers=parent.headers()).get_json()
    assert body["isServingDay"] is False
    assert {m["status"] for m in body["meals"]} == {"not_serving_day"}


def test_a_voided_meal_is_no_longer_served_today(checked, settings, parent, meals):
    from tests.parent_factories import staff_headers

    result = meals.record(parent.child)
    void = checked.post(f"/api/v1/admin/entries/{result['entryId']}/void", json={"reason": "mistake"},
                        headers=staff_headers(settings, "operator"))
    assert void.status_code == 201
    body = checked.get(parent.url("/meals/today"), headers=parent.headers()).get_json()
    assert next(m for m in body["meals"] if m["mealType"] == "lunch")["status"] == "not_yet"


def test_another_parents_child_is_the_same_404_as_a_child_that_does_not_exist(checked, parent, other_parent):
    suffixes = ["/meals/today", "/meals", "/menu", "/allergies", "/access-log", "/meals/1/feedback"]
    for suffix in suffixes:
        others = checked.get(other_parent.url(suffix), headers=parent.headers())
        missing = checked.get(f"/api/v1/parent/children/{uuid.uuid4()}{suffix}", headers=parent.headers())
        malformed = checked.get(f"/api/v1/parent/children/not-a-uuid{suffix}", headers=parent.headers())
        assert_problem(others, 404, "child_not_found")
        assert body_but_id(others) == body_but_id(missing) == body_but_id(malformed), suffix
        assert headers_but_id(others) == headers_but_id(missing)
    put = checked.put(other_parent.url("/allergies"), json={"allergens": ["milk"]}, headers=parent.headers())
    assert body_but_id(put) == body_but_id(missing)


def test_no_child_iin_in_any_parent_response(checked, parent, meals, world):
    meals.record(parent.child)
    urls = ["/api/v1/parent/children", parent.url("/meals/today"), parent.url("/meals"), parent.url("/menu"),
            parent.url("/access-log"), "/api/v1/parent/notifications"]
    for url in urls:
        text = checked.get(url, headers=parent.headers()).get_data(as_text=True)
        for student in [*world.eligible, world.not_eligible, world.elsewhere]:
            assert student.iin not in text, url
        assert parent.iin not in text, url


def test_every_read_of_a_childs_data_is_logged_and_the_parent_can_read_the_log(
        checked, session_factory, parent, settings, world):
    from tests.parent_factories import OTHER_PARENT_IIN, Parent

    with session_factory() as session:
        link(session, OTHER_PARENT_IIN, parent.child, "father")
    father = Parent(OTHER_PARENT_IIN, parent.child, settings)
    checked.get("/api/v1/parent/children", headers=parent.headers())
    checked.get(parent.url("/meals/today"), headers=parent.headers())
    checked.get(parent.url("/meals"), headers=parent.headers())
    checked.get(parent.url("/menu"), headers=father.headers())
    response = checked.get(parent.url("/access-log"), headers=parent.headers())
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["action"] for i in items] == ["menu", "meals", "meals_today", "children"]
    assert [i["actor"]["isYou"] for i in items] == [False, True, True, True]
    assert items[0]["actor"] == {"role": "parent", "id": OTHER_PARENT_IIN[:4] + "******" + OTHER_PARENT_IIN[-2:],
                                 "isYou": False}
    assert all(i["at"] for i in items)
    with session_factory() as session:
        rows = list(session.scalars(select(ChildAccessLog).order_by(ChildAccessLog.id)))
    assert [r.action for r in rows] == ["children", "meals_today", "meals", "menu", "access_log"]
    assert {r.student_id for r in rows} == {parent.child.id}
    assert rows[0].actor_id == parent.iin and rows[0].actor_role == "parent"


def test_access_log_pages_with_a_cursor(checked, parent):
    for _ in range(5):
        checked.get(parent.url("/meals/today"), headers=parent.headers())
    first = checked.get(parent.url("/access-log?limit=3"), headers=parent.headers()).get_json()
    assert len(first["items"]) == 3 and first["nextCursor"]
    second = checked.get(parent.url(f"/access-log?limit=3&cursor={first['nextCursor']}"),
                         headers=parent.headers()).get_json()
    # 5 reads of today, then the first access-log read: the second page has the rest of them.
    assert [i["action"] for i in second["items"]] == ["meals_today", "meals_today"]
    assert second["nextCursor"] is None


def test_a_failed_read_writes_nothing_to_the_access_log(checked, session_factory, parent, other_parent):
    checked.get(other_parent.url("/meals/today"), headers=parent.headers())
    checked.get(parent.url("/meals?from=2026-13-01"), headers=parent.headers())
    checked.get(parent.url("/meals?from=2020-01-01"), headers=parent.headers())
    checked.get(parent.url("/meals?cursor=bogus"), headers=parent.headers())
    checked.get(parent.url("/menu?date=1999-01-01"), headers=parent.headers())
    with session_factory() as session:
        assert session.scalars(select(ChildAccessLog)).all() == []


def test_names_and_titles_follow_accept_language(checked, parent, world):
    kk = checked.get("/api/v1/parent/children", headers=parent.headers("kk"))
    assert kk.headers["Content-Language"] == "kk"
    assert kk.get_json()["items"][0]["school"]["name"] == "№1 мектеп"
    en = checked.get("/api/v1/parent/children", headers=parent.headers("en-GB,en;q=0.9"))
    assert en.headers["Content-Language"] == "en"
    default = checked.get("/api/v1/parent/children", headers=parent.headers())
    assert default.headers["Content-Language"] == "ru"
    titles = {lang: checked.get(f"/api/v1/parent/children/{uuid.uuid4()}/menu",
                                headers=parent.headers(lang)).get_json()["title"] for lang in ("kk", "ru", "en")}
    assert titles == {"kk": "Бала табылмады", "ru": "Ребёнок не найден", "en": "Child not found"}


def test_parent_answers_are_private_and_not_sniffable(checked, parent):
    response = checked.get("/api/v1/parent/children", headers=parent.headers())
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Language" in response.headers["Vary"]
    json.loads(response.get_data())
    today = checked.get(parent.url("/meals/today"), headers=parent.headers())
    assert today.headers["Cache-Control"] == "no-store" and today.headers["X-Content-Type-Options"] == "nosniff"
    assert today.headers["Vary"] == "Accept-Language, Authorization" and today.headers["Content-Language"]
    assert today.headers["X-Request-Id"]
