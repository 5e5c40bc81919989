"""The terminal's roster: who may eat free today (never why), today's menu, no IINs; ETag revalidation."""

import datetime as dt
import uuid

from sqlalchemy import select

from tests.factories import an_iin
from wallet.models import CalendarDay, Enrollment, Menu, MenuDish, Student, StudentEligibility

ROSTER = "/api/v1/terminal/roster"


def get_roster(checked, terminal_key, **headers):
    return checked.get(ROSTER, headers={**terminal_key.headers(), **headers})


def test_the_roster_lists_todays_pupils_and_who_eats_free(checked, world, terminal_key):
    response = get_roster(checked, terminal_key)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["school"] == {"bin": world.school.bin, "nameKk": world.school.name_kk,
                              "nameRu": world.school.name_ru, "timezone": "Asia/Almaty"}
    assert body["servingDay"] == world.today.isoformat() and body["isServingDay"] is True
    pupils = {p["studentId"]: p for p in body["students"]}
    assert set(pupils) == {str(s.id) for s in [*world.eligible, world.not_eligible]}
    assert str(world.elsewhere.id) not in pupils
    for student in world.eligible:
        pupil = pupils[str(student.id)]
        assert pupil["freeMealToday"] is True
        assert pupil["mealTypes"] == ["breakfast", "lunch", "snack"]
        assert pupil["displayName"] == f"{student.first_name} {student.last_name[0]}."
        assert pupil["className"] == "2А" and pupil["grade"] == 2
    refused = pupils[str(world.not_eligible.id)]
    assert refused["freeMealToday"] is False and refused["mealTypes"] == []


def test_the_roster_holds_no_iin_and_no_reason(checked, world, terminal_key):
    text = get_roster(checked, terminal_key).get_data(as_text=True)
    for student in [*world.eligible, world.not_eligible, world.elsewhere]:
        assert student.iin not in text
        assert student.last_name not in text  # only the initial
    assert "primary_grades" not in text and "category" not in text.lower()


def test_the_roster_carries_todays_menu(checked, world, terminal_key):
    menu = get_roster(checked, terminal_key).get_json()["menu"]
    assert menu == [{"mealType": "lunch", "dishes": [
        {"nameKk": "Көже", "nameRu": "Суп", "nameEn": "Soup", "grams": 250, "kcal": 120, "allergens": ["gluten"]},
        {"nameKk": "Палау", "nameRu": "Плов", "nameEn": "Pilaf", "grams": 200, "kcal": 380, "allergens": []},
    ]}]


def test_an_unchanged_roster_answers_304(checked, world, terminal_key):
    first = get_roster(checked, terminal_key)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "private, no-cache"
    again = get_roster(checked, terminal_key, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    # Weak comparison (RFC 9110): a proxy that compresses may hand the terminal a weak tag.
    assert get_roster(checked, terminal_key, **{"If-None-Match": f"W/{etag}"}).status_code == 304
    assert get_roster(checked, terminal_key, **{"If-None-Match": f'"other", {etag}'}).status_code == 304
    other = get_roster(checked, terminal_key, **{"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.headers["ETag"] == etag


def test_a_menu_change_changes_the_etag(checked, session_factory, world, terminal_key):
    etag = get_roster(checked, terminal_key).headers["ETag"]
    with session_factory() as session:
        menu = session.scalars(select(Menu).where(Menu.school_id == world.school.id)).one()
        session.add(MenuDish(menu_id=menu.id, position=3, name_kk="Шырын", name_ru="Сок", name_en="Juice",
                             grams=200, kcal=90, allergens=""))
        session.commit()
    changed = get_roster(checked, terminal_key, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert [d["nameEn"] for d in changed.get_json()["menu"][0]["dishes"]] == ["Soup", "Pilaf", "Juice"]
    new_etag = changed.headers["ETag"]
    assert get_roster(checked, terminal_key, **{"If-None-Match": new_etag}).status_code == 304
    with session_factory() as session:
        dish = session.scalars(select(MenuDish).where(MenuDish.position == 1)).one()
        dish.grams = 300
        session.commit()
    assert get_roster(checked, terminal_key, **{"If-None-Match": new_etag}).status_code == 200


def test_a_new_pupil_changes_the_roster(checked, session_factory, world, terminal_key):
    etag = get_roster(checked, terminal_key).headers["ETag"]
    with session_factory() as session:
        student = Student(id=uuid.uuid4(), iin=an_iin(dt.date(2018, 5, 5), female=True), last_name="Жаңа",
                          first_name="Айгерім")
        session.add(student)
        session.flush()
        session.add(Enrollment(student_id=student.id, school_id=world.school.id, grade=1, class_name="1Б",
                               valid_from=world.today, valid_to=None))
        session.add(StudentEligibility(student_id=student.id, category_code="primary_grades",
                                       valid_from=world.today, valid_to=world.contract.valid_to))
        session.commit()
        new_id = str(student.id)
    response = get_roster(checked, terminal_key, **{"If-None-Match": etag})
    assert response.status_code == 200
    pupil = next(p for p in response.get_json()["students"] if p["studentId"] == new_id)
    assert pupil["freeMealToday"] is True and pupil["displayName"] == "Айгерім Ж."


def test_on_a_holiday_no_one_eats_free(checked, session_factory, world, terminal_key):
    with session_factory() as session:
        day = session.scalars(select(CalendarDay).where(CalendarDay.school_id == world.school.id,
                                                        CalendarDay.day == world.today)).one()
        day.kind = "holiday"
        session.commit()
    body = get_roster(checked, terminal_key).get_json()
    assert body["isServingDay"] is False
    assert body["students"] and all(not p["freeMealToday"] and p["mealTypes"] == [] for p in body["students"])


def test_a_pupil_whose_eligibility_ended_yesterday_does_not_eat_free(checked, session_factory, world,
                                                                      terminal_key):
    student = world.eligible[0]
    with session_factory() as session:
        eligibility = session.scalars(select(StudentEligibility).where(
            StudentEligibility.student_id == student.id)).one()
        eligibility.valid_to = world.today - dt.timedelta(days=1)
        session.commit()
    pupils = {p["studentId"]: p for p in get_roster(checked, terminal_key).get_json()["students"]}
    assert pupils[str(student.id)]["freeMealToday"] is False
