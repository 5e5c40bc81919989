"""Findings over HTTP (issue 16, items 7 and 8): a parent disputes a meal, the authority lists the finding in
its language, rules on it (all or nothing) and runs the scan; every response checked against openapi.yaml."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.parent_factories import (  # noqa: F401 - fixtures
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
    staff_headers,
)
from wallet.models import Finding, FindingRuling

F = "/api/v1/auditor/findings"


def _count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_dispute_is_a_finding_the_auditor_rules_on(checked, settings, world, parent, other_parent, meals,
                                                     session_factory) -> None:
    entry = meals.record(parent.child)["entryId"]
    disputed = checked.post(parent.url(f"/meals/{entry}/dispute"), headers=parent.headers(),
                            json={"comment": "he was at home with a fever"})
    assert disputed.status_code == 201, disputed.get_json()
    assert disputed.get_json()["state"] == "open"
    assert_problem(checked.post(parent.url(f"/meals/{entry}/dispute"), headers=parent.headers(), json={}),
                   409, "meal_already_disputed")
    assert_problem(checked.post(other_parent.url(f"/meals/{entry}/dispute"), headers=parent.headers(), json={}),
                   404, "child_not_found")
    assert_problem(checked.post(parent.url("/meals/999999/dispute"), headers=parent.headers(), json={}),
                   404, "meal_not_found")

    auditor = staff_headers(settings, "auditor", region=world.region.code)
    month = world.today.strftime("%Y-%m")
    listed = checked.get(f"{F}?month={month}", headers={**auditor, "Accept-Language": "kk"})
    assert listed.status_code == 200, listed.get_json()
    [item] = listed.get_json()["items"]
    assert item["rule"] == "parent_dispute" and item["evidence"]["entryIds"] == [entry]
    assert "ата-ана" in item["explanation"].lower() and "fever" not in str(item)  # the comment stays the parent's
    school = staff_headers(settings, "school_admin", school=world.school.bin)
    assert checked.get(f"{F}/{item['id']}", headers=school).get_json()["state"] == "open"
    assert_problem(checked.get(f"{F}?month={month}", headers=staff_headers(settings, "supplier",
                                                                           supplier=world.supplier.bin)),
                   403, "forbidden")
    assert_problem(checked.post(f"{F}/rulings", headers=school, json={"items": [
        {"findingId": item["id"], "outcome": "upheld", "reason": "not mine to rule"}]}), 403, "forbidden")

    bad = checked.post(f"{F}/rulings", headers=auditor, json={"items": [
        {"findingId": item["id"], "outcome": "dismissed", "reason": "the journal shows him present"},
        {"findingId": 424242, "outcome": "upheld", "reason": "no such finding"}]})
    assert_problem(bad, 422, "validation_failed")
    assert _count(session_factory, FindingRuling) == 0
    ruled = checked.post(f"{F}/rulings", headers=auditor, json={"items": [
        {"findingId": item["id"], "outcome": "dismissed", "reason": "the journal shows him present"}]})
    assert ruled.status_code == 201, ruled.get_json()
    assert checked.get(parent.url(f"/meals/{entry}/dispute"), headers=parent.headers()).get_json()["state"] == \
        "dismissed"

    scanned = checked.post(f"{F}/scan", headers=auditor, json={"month": month})
    assert scanned.status_code == 200, scanned.get_json()
    again = checked.post(f"{F}/scan", headers=auditor, json={"month": month})
    assert again.get_json()["newFindings"] == 0
    assert _count(session_factory, Finding) == 1 + scanned.get_json()["newFindings"]
