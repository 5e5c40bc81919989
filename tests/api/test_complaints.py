"""Complaints: a parent escalates feedback on a child's meal; auditors of the region review and answer;
the parent reads the answer. Scopes, transitions, bad input; every response checked against openapi.yaml."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.parent_factories import (  # noqa: F401
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
    staff_headers,
)
from wallet.models import ChildAccessLog, Complaint, ComplaintHistory


@pytest.fixture
def rated(checked, parent, meals) -> int:
    """A lunch of the parent's child, with feedback; its entry id."""
    entry = meals.record(parent.child)["entryId"]
    response = checked.post(parent.url(f"/meals/{entry}/feedback"), headers=parent.headers(),
                            json={"rating": 1, "tags": ["too_cold"], "comment": "cold soup"})
    assert response.status_code == 201
    return entry


def file(checked, parent, entry, text="The soup was cold three days in a row."):
    return checked.post(parent.url("/complaints"), headers=parent.headers(), json={"entryId": entry, "text": text})


def auditor(settings, world, region=None):
    return staff_headers(settings, "auditor", region=region or world.region.code)


def move(checked, settings, world, complaint_id, headers=None, **body):
    return checked.post(f"/api/v1/auditor/complaints/{complaint_id}/status",
                        headers=headers or auditor(settings, world), json=body)


def test_a_complaint_from_feedback_to_answer(checked, settings, world, parent, rated, session_factory):
    filed = file(checked, parent, rated)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    body = filed.get_json()
    assert body["status"] == "submitted" and body["entryId"] == rated and body["filedByYou"] is True
    assert body["region"] == world.region.code and body["school"]["bin"] == world.school.bin
    assert [h["status"] for h in body["history"]] == ["submitted"] and "******" in body["history"][0]["actor"]
    cid = body["complaintId"]

    listed = checked.get(f"/api/v1/auditor/complaints?status=submitted&school={world.school.bin}",
                         headers=auditor(settings, world)).get_json()
    assert [c["complaintId"] for c in listed["items"]] == [cid] and listed["nextCursor"] is None
    assert "filedByYou" not in listed["items"][0]
    assert move(checked, settings, world, cid, status="in_review", note="asked the supplier").status_code == 200
    answered = move(checked, settings, world, cid, status="answered", answer="The supplier replaced the heater.")
    assert answered.status_code == 200
    assert [(h["fromStatus"], h["status"]) for h in answered.get_json()["history"]] == [
        (None, "submitted"), ("submitted", "in_review"), ("in_review", "answered")]

    mine = checked.get(parent.url("/complaints"), headers=parent.headers())
    assert mine.status_code == 200
    item = mine.get_json()["items"][0]
    assert item["status"] == "answered" and item["answer"] == "The supplier replaced the heater."
    one = checked.get(f"/api/v1/auditor/complaints/{cid}", headers=staff_headers(settings, "operator")).get_json()
    assert one["answer"] == item["answer"] and len(one["history"]) == 3
    with session_factory() as session:
        actions = list(session.scalars(select(ChildAccessLog.action).where(
            ChildAccessLog.student_id == parent.child.id)))
    assert "complaint_write" in actions and "complaints_read" in actions
    # Answered: a new complaint about the same feedback may be filed.
    assert file(checked, parent, rated).status_code == 201


def test_one_open_complaint_per_feedback(checked, parent, rated, session_factory):
    assert file(checked, parent, rated).status_code == 201
    assert_problem(file(checked, parent, rated), 409, "complaint_already_open")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1


def test_another_parents_child_or_feedback_is_404(checked, parent, other_parent, meals, rated, session_factory):
    theirs = checked.post(other_parent.url("/complaints"), headers=parent.headers(),
                          json={"entryId": rated, "text": "x"})
    assert_problem(theirs, 404, "child_not_found")
    # Their own child, but the meal is another child's.
    assert_problem(file(checked, other_parent, rated), 404, "feedback_not_found")
    # A meal of the child without feedback.
    unrated = meals.record(parent.child, meal_type="breakfast")["entryId"]
    assert_problem(file(checked, parent, unrated), 404, "feedback_not_found")
    assert_problem(file(checked, parent, 10**12), 404, "feedback_not_found")
    assert_problem(checked.get(other_parent.url("/complaints"), headers=parent.headers()), 404, "child_not_found")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"entryId": "RATED", "text": "x" * 2001}, "text"),
    ({"entryId": "RATED", "text": ""}, "text"),
    ({"entryId": "RATED", "text": "   "}, "text"),
    ({"entryId": "RATED", "text": "bad \u0000 byte"}, "text"),
    ({"entryId": "1", "text": "x"}, "entryId"),
    ({"entryId": True, "text": "x"}, "entryId"),
    ({"text": "x"}, "entryId"),
    ({"entryId": "RATED", "text": "x", "status": "answered"}, "status"),
])
def test_bad_complaints_are_422(checked, parent, rated, session_factory, body, field):
    body = {**body, "entryId": rated} if body.get("entryId") == "RATED" else body
    response = checked.post(parent.url("/complaints"), headers=parent.headers(), json=body)
    problem = assert_problem(response, 422, "validation_failed")
    assert any(field in e["field"] for e in problem["errors"]), problem
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_transitions_and_scopes(checked, settings, world, parent, rated, session_factory):
    cid = file(checked, parent, rated).get_json()["complaintId"]
    assert_problem(move(checked, settings, world, cid, status="answered", answer="no"), 409, "invalid_transition")
    assert_problem(move(checked, settings, world, cid, status="submitted"), 409, "invalid_transition")
    assert_problem(move(checked, settings, world, cid, status="answered"), 422, "validation_failed")  # no answer
    assert_problem(move(checked, settings, world, cid, status="in_review", answer="early"), 422, "validation_failed")
    assert_problem(move(checked, settings, world, cid, status="closed"), 422, "validation_failed")
    assert_problem(move(checked, settings, world, cid, status="in_review", answer="x" * 4001), 422,
                   "validation_failed")
    elsewhere = auditor(settings, world, region="KZ-19")
    assert_problem(move(checked, settings, world, cid, headers=elsewhere, status="in_review"), 404,
                   "complaint_not_found")
    assert_problem(checked.get(f"/api/v1/auditor/complaints/{cid}", headers=elsewhere), 404, "complaint_not_found")
    assert checked.get("/api/v1/auditor/complaints", headers=elsewhere).get_json()["items"] == []
    others = (("school_admin", {"school": world.school.bin}), ("supplier", {"supplier": world.supplier.bin}))
    for role, claims in others:
        headers = staff_headers(settings, role, **claims)
        assert_problem(checked.get("/api/v1/auditor/complaints", headers=headers), 403, "forbidden")
        assert_problem(move(checked, settings, world, cid, headers=headers, status="in_review"), 403, "forbidden")
    assert_problem(checked.get("/api/v1/auditor/complaints", headers=parent.headers()), 403, "forbidden")
    assert_problem(checked.get("/api/v1/auditor/complaints/abc", headers=auditor(settings, world)), 404,
                   "complaint_not_found")
    assert_problem(checked.get("/api/v1/auditor/complaints?status=open", headers=auditor(settings, world)), 422,
                   "validation_failed")
    assert move(checked, settings, world, cid, status="in_review").status_code == 200
    assert_problem(move(checked, settings, world, cid, status="in_review"), 409, "invalid_transition")
    with session_factory() as session:
        assert [h.status for h in session.scalars(select(ComplaintHistory).order_by(ComplaintHistory.id))] == [
            "submitted", "in_review"]


def test_history_is_append_only(checked, parent, rated, session_factory, engine):
    file(checked, parent, rated)
    for statement in ("UPDATE complaint_history SET note = 'x'", "DELETE FROM complaint_history"):
        with engine.connect() as conn, pytest.raises(DatabaseError):
            conn.execute(text(statement))


def test_pages_of_complaints(checked, settings, world, parent, meals):
    for meal_type in ("breakfast", "lunch", "snack"):
        entry = meals.record(parent.child, meal_type=meal_type)["entryId"]
        checked.post(parent.url(f"/meals/{entry}/feedback"), headers=parent.headers(), json={"rating": 2})
        assert file(checked, parent, entry).status_code == 201
    first = checked.get("/api/v1/auditor/complaints?limit=2", headers=auditor(settings, world)).get_json()
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = checked.get(f"/api/v1/auditor/complaints?limit=2&cursor={first['nextCursor']}",
                         headers=auditor(settings, world)).get_json()
    assert len(second["items"]) == 1 and second["nextCursor"] is None
    bad = checked.get(f"/api/v1/auditor/complaints?limit=2&status=submitted&cursor={first['nextCursor']}",
                      headers=auditor(settings, world))
    assert_problem(bad, 422, "invalid_cursor")
