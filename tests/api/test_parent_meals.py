"""A child's meal history: newest first, cursor pages, menus, voids, refused attempts, bad input."""

import base64
import datetime as dt
import json

import pytest

from tests.parent_factories import (  # noqa: F401
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
    serving_days,
    staff_headers,
)
from wallet.models import Menu, MenuDish


@pytest.fixture
def week(session_factory, world):
    """The six days before today are serving days too, each with a lunch menu."""
    days = [world.today - dt.timedelta(days=n) for n in range(1, 7)]
    with session_factory() as session:
        serving_days(session, world.school.id, days)
        for n, day in enumerate(days):
            session.add(Menu(school_id=world.school.id, day=day, meal_type="lunch", dishes=[
                MenuDish(position=1, name_kk=f"Ас {n}", name_ru=f"Блюдо {n}", name_en=f"Dish {n}", grams=200,
                         kcal=300, allergens="milk")]))
        session.commit()
    return days


def test_history_is_newest_first_with_menus_and_cursor_pages(checked, parent, meals, week, world):
    recorded = [meals.record(parent.child, day=day) for day in reversed(week)]  # oldest first
    recorded.append(meals.record(parent.child))  # today
    assert all(r["verdict"] == "billable" for r in recorded)
    seen, cursor = [], None
    while True:
        url = parent.url("/meals?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        response = checked.get(url, headers=parent.headers("en"))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen.extend(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert [i["entryId"] for i in seen] == [r["entryId"] for r in reversed(recorded)]
    assert [i["date"] for i in seen] == [d.isoformat() for d in [world.today, *week]]
    today_item = seen[0]
    assert [d["name"] for d in today_item["menu"]] == ["Soup", "Pilaf"]
    assert today_item["menu"][0] == {"name": "Soup", "grams": 250, "kcal": 120, "allergens": ["gluten"],
                                     "allergenWarnings": []}
    assert seen[1]["menu"][0]["name"] == "Dish 0"
    assert all(i["billable"] and not i["voided"] and i["kind"] == "meal" for i in seen)
    assert all(i["canGiveFeedback"] and i["feedback"] is None for i in seen)


def test_history_shows_refused_attempts_and_voids(checked, settings, parent, meals, world):
    meal = meals.record(parent.child)
    twice = meals.record(parent.child)
    assert twice["verdict"] == "not_billable"
    void = checked.post(f"/api/v1/admin/entries/{meal['entryId']}/void", json={"reason": "entered twice"},
                        headers=staff_headers(settings, "operator"))
    assert void.status_code == 201
    items = checked.get(parent.url("/meals"), headers=parent.headers()).get_json()["items"]
    by_id = {i["entryId"]: i for i in items}
    assert [i["kind"] for i in items] == ["void", "meal", "meal"]
    void_item = by_id[void.get_json()["entryId"]]
    assert void_item["voidOf"] == meal["entryId"] and void_item["billable"] is False
    assert by_id[meal["entryId"]]["voided"] is True
    assert by_id[meal["entryId"]]["voidedBy"] == void_item["entryId"]
    assert by_id[meal["entryId"]]["canGiveFeedback"] is False
    assert by_id[twice["entryId"]]["billable"] is False and by_id[twice["entryId"]]["reasons"] == ["duplicate_meal"]


def test_history_filters_by_date_range(checked, parent, meals, week, world):
    for day in week:
        meals.record(parent.child, day=day)
    body = checked.get(parent.url(f"/meals?from={week[3]}&to={week[1]}"), headers=parent.headers()).get_json()
    assert [i["date"] for i in body["items"]] == [week[1].isoformat(), week[2].isoformat(), week[3].isoformat()]
    assert body["from"] == week[3].isoformat() and body["to"] == week[1].isoformat()


def test_history_does_not_show_other_children(checked, parent, other_parent, meals):
    meals.record(other_parent.child)
    assert checked.get(parent.url("/meals"), headers=parent.headers()).get_json()["items"] == []


@pytest.mark.parametrize("query, field", [
    ("from=2026-02-30", "query/from"),
    ("to=yesterday", "query/to"),
    ("from=2025-01-01&to=2026-01-02", "query/from"),
    ("from=2020-01-01", "query/from"),
    ("from=2026-03-02&to=2026-03-01", "query/from"),
    ("limit=0", "query/limit"),
    ("limit=201", "query/limit"),
])
def test_bad_dates_and_ranges_are_422(checked, parent, query, field):
    code = "range_too_long" if query.startswith(("from=2025-01-01", "from=2020")) else "validation_failed"
    body = assert_problem(checked.get(parent.url(f"/meals?{query}"), headers=parent.headers()), 422, code)
    assert field in {e["field"] for e in body["errors"]}


def test_a_range_of_exactly_366_days_is_accepted(checked, parent):
    response = checked.get(parent.url("/meals?from=2025-01-01&to=2026-01-01"), headers=parent.headers())
    assert response.status_code == 200


def _cursor_of(checked, parent, meals, count=3):
    for _ in range(count):
        meals.record(parent.child, meal_type="snack")
    body = checked.get(parent.url("/meals?limit=1"), headers=parent.headers()).get_json()
    assert body["nextCursor"]
    return body["nextCursor"]


def test_tampered_and_foreign_cursors_are_refused(checked, parent, other_parent, meals):
    cursor = _cursor_of(checked, parent, meals)
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[1][1] = raw[1][1] + 1000  # move the position, keep the old check value
    tampered = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    bad = ["x", "!!!!", cursor[:-2], tampered, "A" * 200,
           base64.urlsafe_b64encode(b'["meals",["2026-01-01",1],"000000000000"]').decode()]
    for value in bad:
        body = assert_problem(checked.get(parent.url(f"/meals?cursor={value}"), headers=parent.headers()), 422,
                              "invalid_cursor")
        assert body["errors"][0]["field"] == "query/cursor"
    # A cursor belongs to its child and its filters.
    other = checked.get(parent.url(f"/meals?cursor={cursor}&from=2026-01-01"), headers=parent.headers())
    assert_problem(other, 422, "invalid_cursor")
    too_long = checked.get(parent.url(f"/meals?cursor={'A' * 201}"), headers=parent.headers())
    assert_problem(too_long, 422, "validation_failed")
