"""Feedback on served meals: one per meal, changeable for 24 hours as new versions; bad input writes nothing;
the staff summary per school, supplier and dish counts the latest versions within each role's scope."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from tests.factories import a_bin
from tests.parent_factories import assert_problem, meals_fixture, other_parent_fixture, parent_fixture, staff_headers  # noqa: F401
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.models import ChildAccessLog, LedgerEntry, MealFeedback, Region, School, Supplier


def _other_school_entry(session, school_id: int, student_id) -> int:
    now = dt.datetime.now(dt.UTC)
    entry = LedgerEntry(
        kind="meal", event_id=uuid.uuid4(), terminal_id="T-other", device_seq=1, student_ref=str(student_id),
        student_id=student_id, meal_type="lunch", method="roster", served_at=now, serving_day=now.date(),
        billing_month=f"{now:%Y-%m}", received_at=now, verdict="not_billable", reasons="not_enrolled_here",
        price_tiyn=0, content_hash=bytes(32))
    append_entries(session, lock_chain_head(session, school_id), [entry])
    return entry.id


def feedback_url(parent, entry_id) -> str:
    return parent.url(f"/meals/{entry_id}/feedback")


def count_feedback(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(MealFeedback))


@pytest.fixture
def lunch(parent, meals) -> dict:
    result = meals.record(parent.child)
    assert result["verdict"] == "billable"
    return result


def test_feedback_on_a_served_meal_and_a_change_as_a_new_version(checked, parent, lunch, session_factory):
    first = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(),
                         json={"rating": 4, "tags": ["too_cold", "tasty"], "comment": "  Суп был холодный  "})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["version"] == 1 and body["rating"] == 4 and body["tags"] == ["tasty", "too_cold"]
    assert body["comment"] == "Суп был холодный" and body["entryId"] == lunch["entryId"]
    created = dt.datetime.fromisoformat(body["createdAt"])
    assert dt.datetime.fromisoformat(body["editableUntil"]) - created == dt.timedelta(hours=24)
    second = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(), json={"rating": 2})
    assert second.status_code == 200 and second.get_json()["version"] == 2
    assert second.get_json()["editableUntil"] == body["editableUntil"]
    latest = checked.get(feedback_url(parent, lunch["entryId"]), headers=parent.headers()).get_json()
    assert latest["version"] == 2 and latest["rating"] == 2 and latest["tags"] == [] and latest["comment"] is None
    history = checked.get(parent.url("/meals"), headers=parent.headers()).get_json()["items"]
    assert history[0]["feedback"] == {"rating": 2, "version": 2}
    with session_factory() as session:
        versions = list(session.scalars(select(MealFeedback).order_by(MealFeedback.version)))
    assert [(v.version, v.rating) for v in versions] == [(1, 4), (2, 2)]
    assert versions[0].parent_iin == parent.iin and versions[0].supplier_id is not None


def test_feedback_is_settled_after_24_hours(checked, parent, lunch, session_factory):
    checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(), json={"rating": 5})
    import wallet.parents.feedback as feedback

    real = dt.datetime
    later = real.now(dt.UTC) + dt.timedelta(hours=24, minutes=1)
    with session_factory() as session, pytest.raises(feedback.Conflict) as caught:
        feedback.submit_feedback(session, parent_iin=parent.iin, child_id=parent.child.id,
                                 entry_id=lunch["entryId"], rating=1, now=later)
    assert caught.value.code == "feedback_locked"
    assert count_feedback(session_factory) == 1


def test_comments_are_stored_as_plain_text(checked, parent, lunch, session_factory):
    comment = '<script>alert("x")</script> & <b>bold</b>'
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(),
                            json={"rating": 3, "comment": comment})
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["comment"] == comment
    with session_factory() as session:
        assert session.scalars(select(MealFeedback.comment)).one() == comment


@pytest.mark.parametrize("body, field", [
    ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"),
    ({"rating": "5"}, "rating"),
    ({"rating": True}, "rating"),
    ({"rating": 4.5}, "rating"),
    ({}, "rating"),
    ({"rating": 3, "tags": ["delicious"]}, "tags/0"),
    ({"rating": 3, "tags": ["tasty", "tasty"]}, "tags"),
    ({"rating": 3, "tags": "tasty"}, "tags"),
    ({"rating": 3, "comment": "x" * 501}, "comment"),
    ({"rating": 3, "comment": "bad\u0000byte"}, "comment"),
    ({"rating": 3, "comment": 12}, "comment"),
    ({"rating": 3, "verdict": "billable"}, "verdict"),
])
def test_bad_feedback_is_422_and_writes_nothing(checked, parent, lunch, session_factory, body, field):
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(), json=body)
    problem = assert_problem(response, 422, "validation_failed")
    assert field in {e["field"] for e in problem["errors"]}
    assert count_feedback(session_factory) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChildAccessLog)) == 0


def test_a_comment_with_a_lone_surrogate_is_refused_and_writes_nothing(checked, parent, lunch, session_factory):
    """JSON can spell a lone surrogate (\\ud800) that is no character and that PostgreSQL cannot store."""
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(),
                            data='{"rating": 3, "comment": "lone \\ud800 surrogate"}', content_type="application/json")
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"
    assert count_feedback(session_factory) == 0


def test_a_comment_of_exactly_500_characters_is_accepted(checked, parent, lunch):
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(),
                            json={"rating": 3, "comment": "ж" * 500})
    assert response.status_code == 201


def test_feedback_on_a_meal_that_was_not_served(checked, settings, parent, other_parent, meals, lunch,
                                                session_factory):
    refused = meals.record(parent.child)  # a second lunch today: not billable
    assert refused["verdict"] == "not_billable"
    response = checked.post(feedback_url(parent, refused["entryId"]), headers=parent.headers(), json={"rating": 5})
    assert_problem(response, 409, "meal_not_served")
    void = checked.post(f"/api/v1/admin/entries/{lunch['entryId']}/void", json={"reason": "not eaten"},
                        headers=staff_headers(settings, "operator"))
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(), json={"rating": 5})
    assert_problem(response, 409, "meal_voided")
    response = checked.post(feedback_url(parent, void.get_json()["entryId"]), headers=parent.headers(),
                            json={"rating": 5})
    assert_problem(response, 404, "meal_not_found")
    others = meals.record(other_parent.child)
    response = checked.post(feedback_url(parent, others["entryId"]), headers=parent.headers(), json={"rating": 5})
    assert_problem(response, 404, "meal_not_found")
    for entry in ("999999", "abc", "-1", "1" * 30):
        response = checked.post(feedback_url(parent, entry), headers=parent.headers(), json={"rating": 5})
        assert_problem(response, 404, "meal_not_found")
    response = checked.post(feedback_url(other_parent, others["entryId"]), headers=parent.headers(),
                            json={"rating": 5})
    assert_problem(response, 404, "child_not_found")
    assert_problem(checked.get(feedback_url(parent, others["entryId"]), headers=parent.headers()), 404,
                   "meal_not_found")
    assert count_feedback(session_factory) == 0


def test_feedback_on_an_old_meal_is_refused(checked, parent, meals, world, session_factory):
    from tests.parent_factories import serving_days

    old_day = world.today - dt.timedelta(days=15)
    with session_factory() as session:
        serving_days(session, world.school.id, [old_day])
    old = meals.record(parent.child, day=old_day)
    assert old["verdict"] == "billable"
    response = checked.post(feedback_url(parent, old["entryId"]), headers=parent.headers(), json={"rating": 4})
    assert_problem(response, 409, "feedback_window_closed")
    assert_problem(checked.get(feedback_url(parent, old["entryId"]), headers=parent.headers()), 404,
                   "feedback_not_found")
    assert count_feedback(session_factory) == 0


def test_feedback_needs_json(checked, parent, lunch):
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(), data="rating=5")
    assert_problem(response, 415, "unsupported_media_type")


# --- the staff summary ------------------------------------------------------------------------------------------


@pytest.fixture
def rated(checked, parent, other_parent, meals, world, session_factory):
    """Two rated lunches at the world's school: 5 (tasty) and 2 (too_cold, small_portion), the first changed
    once (its first version, 1, must not count)."""
    a = meals.record(parent.child)
    b = meals.record(other_parent.child)
    checked.post(feedback_url(parent, a["entryId"]), headers=parent.headers(), json={"rating": 1})
    checked.post(feedback_url(parent, a["entryId"]), headers=parent.headers(), json={"rating": 5, "tags": ["tasty"]})
    checked.post(feedback_url(other_parent, b["entryId"]), headers=other_parent.headers(),
                 json={"rating": 2, "tags": ["too_cold", "small_portion"]})
    return a, b


def test_auditor_summary_per_school_supplier_and_dish(checked, settings, rated, world):
    response = checked.get("/api/v1/auditor/feedback", headers={
        **staff_headers(settings, "auditor", region=world.region.code), "Accept-Language": "en"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["nextCursor"] is None
    [group] = body["groups"]
    assert group["school"]["bin"] == world.school.bin
    assert group["supplier"] == {"bin": world.supplier.bin, "name": world.supplier.name}
    assert group["feedbackCount"] == 2 and group["averageRating"] == 3.5
    assert group["ratingCounts"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert group["tagCounts"]["tasty"] == 1 and group["tagCounts"]["too_cold"] == 1
    assert group["tagCounts"]["small_portion"] == 1 and group["tagCounts"]["not_fresh"] == 0
    assert [d["name"] for d in group["dishes"]] == ["Pilaf", "Soup"]
    assert all(d["feedbackCount"] == 2 and d["averageRating"] == 3.5 for d in group["dishes"])


def test_summary_scopes(checked, settings, rated, world, session_factory):
    with session_factory() as session:
        elsewhere = Region(code="KZ-75", name_kk="Алматы", name_ru="Алматы")
        session.add(elsewhere)
        session.add(Supplier(bin=a_bin(9), name="ТОО Басқа"))
        session.commit()
        other_region = elsewhere.code
    url = "/api/v1/auditor/feedback"

    def groups(**claims):
        response = checked.get(url, headers=staff_headers(settings, **claims))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["groups"]

    assert len(groups(role="operator")) == 1
    assert groups(role="auditor", region=other_region) == []
    assert len(groups(role="school_admin", school=world.school.bin)) == 1
    assert groups(role="school_admin", school=world.other_school.bin) == []
    assert len(groups(role="supplier", supplier=world.supplier.bin)) == 1
    assert groups(role="supplier", supplier=a_bin(9)) == []
    # Asking for a school outside one's scope is a 404, as for the ledger endpoints.
    response = checked.get(f"{url}?school={world.school.bin}",
                           headers=staff_headers(settings, "school_admin", school=world.other_school.bin))
    assert_problem(response, 404, "school_not_found")
    response = checked.get(f"{url}?school={world.school.bin}", headers=staff_headers(settings, "operator"))
    assert len(response.get_json()["groups"]) == 1


def test_summary_is_for_staff_only(checked, settings, parent, rated, world):
    assert_problem(checked.get("/api/v1/auditor/feedback", headers=parent.headers()), 403, "forbidden")
    assert_problem(checked.get("/api/v1/auditor/feedback"), 401, "unauthorized")
    operator = staff_headers(settings, "operator")
    assert_problem(checked.get("/api/v1/auditor/feedback?from=2026-01-01&to=2027-06-01", headers=operator), 422,
                   "range_too_long")
    assert_problem(checked.get("/api/v1/auditor/feedback?school=123", headers=operator), 422, "validation_failed")
    assert_problem(checked.get("/api/v1/auditor/feedback?cursor=abc", headers=operator), 422, "invalid_cursor")


def test_summary_pages_by_school(checked, settings, rated, world, session_factory, meals):
    # Feedback at a second school, written directly (its pupils have no terminal here) on an entry of that
    # school's chain (PostgreSQL checks that a feedback's school is its entry's: migration 0020).
    with session_factory() as session:
        first = session.scalars(select(MealFeedback).order_by(MealFeedback.id.desc())).first()
        other_entry = _other_school_entry(session, world.other_school.id, first.student_id)
        session.add(MealFeedback(entry_id=other_entry, version=1, student_id=first.student_id,
                                 school_id=world.other_school.id, supplier_id=None, serving_day=world.today,
                                 meal_type="lunch", parent_iin=first.parent_iin, rating=4, tags="",
                                 created_at=dt.datetime.now(dt.UTC)))
        session.commit()
        assert session.scalar(select(func.count()).select_from(School)) == 2
    operator = staff_headers(settings, "operator")
    page = checked.get("/api/v1/auditor/feedback?limit=1", headers=operator).get_json()
    assert [g["school"]["bin"] for g in page["groups"]] == [world.school.bin] and page["nextCursor"]
    page2 = checked.get(f"/api/v1/auditor/feedback?limit=1&cursor={page['nextCursor']}", headers=operator).get_json()
    assert [g["school"]["bin"] for g in page2["groups"]] == [world.other_school.bin]
    assert page2["groups"][0]["supplier"] is None and page2["groups"][0]["dishes"] == []
    assert page2["nextCursor"] is None


@pytest.mark.parametrize(("lang", "words"), [
    ("kk", "Бұл тамақ жойылды: бағалайтын тамақ жоқ."),
    ("ru", "Это питание аннулировано: оценивать нечего."),
    ("en", "This meal was voided: there is no meal to rate."),
])
def test_a_refusal_reads_in_the_parents_language(checked, settings, parent, lunch, lang, words):
    checked.post(f"/api/v1/admin/entries/{lunch['entryId']}/void", json={"reason": "not eaten"},
                 headers=staff_headers(settings, "operator"))
    response = checked.post(feedback_url(parent, lunch["entryId"]), headers=parent.headers(lang), json={"rating": 5})
    assert assert_problem(response, 409, "meal_voided")["detail"] == words
    response = checked.post(feedback_url(parent, "999999"), headers=parent.headers(lang), json={"rating": 5})
    detail = assert_problem(response, 404, "meal_not_found")["detail"]
    assert (detail == "No meal with this id was recorded for this child.") == (lang == "en")
