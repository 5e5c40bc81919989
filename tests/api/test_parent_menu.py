"""The school's menu for a child, in the reader's language, with warnings for the allergies the parent recorded."""

import datetime as dt

import pytest
from sqlalchemy import select

from tests.parent_factories import assert_problem, other_parent_fixture, parent_fixture  # noqa: F401
from wallet.models import ChildAllergy


def test_menu_today_in_each_language(checked, parent, world):
    names = {}
    for lang in ("kk", "ru", "en"):
        response = checked.get(parent.url("/menu"), headers=parent.headers(lang))
        assert response.status_code == 200
        body = response.get_json()
        assert body["date"] == world.today.isoformat() and body["isServingDay"] is True
        assert [m["mealType"] for m in body["meals"]] == ["lunch"]
        names[lang] = [d["name"] for d in body["meals"][0]["dishes"]]
    assert names == {"kk": ["Көже", "Палау"], "ru": ["Суп", "Плов"], "en": ["Soup", "Pilaf"]}
    lunch = checked.get(parent.url("/menu"), headers=parent.headers()).get_json()["meals"][0]
    assert lunch["kcal"] == 500 and lunch["dishes"][0]["grams"] == 250
    assert lunch["dishes"][0]["allergens"] == ["gluten"] and lunch["hasAllergenWarnings"] is False


def test_allergies_make_warnings_on_the_menu(checked, parent, session_factory):
    assert checked.get(parent.url("/allergies"), headers=parent.headers()).get_json() == {
        "childId": parent.child_id, "allergens": [], "updatedAt": None}
    put = checked.put(parent.url("/allergies"), json={"allergens": ["milk", "gluten", "milk"]},
                      headers=parent.headers())
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["allergens"] == ["gluten", "milk"] and put.get_json()["updatedAt"]
    body = checked.get(parent.url("/menu"), headers=parent.headers("en")).get_json()
    assert body["childAllergens"] == ["gluten", "milk"]
    soup, pilaf = body["meals"][0]["dishes"]
    assert soup["allergenWarnings"] == ["gluten"] and pilaf["allergenWarnings"] == []
    assert body["meals"][0]["hasAllergenWarnings"] is True
    cleared = checked.put(parent.url("/allergies"), json={"allergens": []}, headers=parent.headers())
    assert cleared.get_json()["allergens"] == []
    with session_factory() as session:
        row = session.scalars(select(ChildAllergy)).one()
        assert row.allergens == "" and row.updated_by == parent.iin


@pytest.mark.parametrize("body", [
    {"allergens": ["chocolate"]}, {"allergens": "milk"}, {}, {"allergens": ["milk"], "extra": 1},
    {"allergens": [None]},
])
def test_bad_allergies_are_422_and_store_nothing(checked, parent, session_factory, body):
    assert_problem(checked.put(parent.url("/allergies"), json=body, headers=parent.headers()), 422,
                   "validation_failed")
    with session_factory() as session:
        assert session.scalars(select(ChildAllergy)).all() == []


def test_allergies_need_json(checked, parent):
    response = checked.put(parent.url("/allergies"), data="allergens=milk", headers=parent.headers())
    assert_problem(response, 415, "unsupported_media_type")
    response = checked.put(parent.url("/allergies"), data="{", content_type="application/json",
                           headers=parent.headers())
    assert_problem(response, 400, "malformed_json")


def test_menu_of_another_day_and_bad_dates(checked, parent, world):
    tomorrow = world.today + dt.timedelta(days=1)
    body = checked.get(parent.url(f"/menu?date={tomorrow}"), headers=parent.headers()).get_json()
    assert body["meals"] == [] and body["isServingDay"] is False and body["date"] == tomorrow.isoformat()
    assert_problem(checked.get(parent.url("/menu?date=31.12.2026"), headers=parent.headers()), 422,
                   "validation_failed")
    far = world.today + dt.timedelta(days=400)
    assert_problem(checked.get(parent.url(f"/menu?date={far}"), headers=parent.headers()), 422,
                   "validation_failed")


def test_allergies_of_another_family_cannot_be_changed(checked, parent, other_parent, session_factory):
    response = checked.put(other_parent.url("/allergies"), json={"allergens": ["milk"]}, headers=parent.headers())
    assert_problem(response, 404, "child_not_found")
    with session_factory() as session:
        assert session.scalars(select(ChildAllergy)).all() == []
