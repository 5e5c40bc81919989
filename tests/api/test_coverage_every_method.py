"""Issue 16, item 0: the programme's voucher rule holds for every identification method, in the roster and
in the verdict, and a parent without consent is told nothing about today's meals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import batch, meal_event
from tests.parent_factories import meals_fixture, other_parent_fixture, parent_fixture  # noqa: F401 - fixtures
from tests.voucher_factories import CONSENT_VERSION, offers_fixture, voucher_for  # noqa: F401 - fixture
from wallet.models import ContractPrice, StudentEligibility
from wallet.vouchers.programme import VoucherState, meal_covered

EVENTS = "/api/v1/terminal/events"
STATUSES = ("active", "offered", "declined", "withdrawn", "suspended")
# (category, voucher status) -> covered; None = no voucher for the school year.
EXPECTED = {
    ("primary_grades", None): True, ("primary_grades", "active"): True, ("primary_grades", "offered"): True,
    ("primary_grades", "declined"): False, ("primary_grades", "withdrawn"): False,
    ("primary_grades", "suspended"): False,
    ("social_assistance", None): True, ("social_assistance", "active"): True,
    ("social_assistance", "offered"): False, ("social_assistance", "declined"): False,
    ("social_assistance", "withdrawn"): False, ("social_assistance", "suspended"): False,
}


def _set_category(session_factory, world, category: str) -> None:
    with session_factory() as session:
        if category != "primary_grades":
            for row in session.scalars(select(StudentEligibility)):
                row.category_code = category
            session.add_all(ContractPrice(contract_id=world.contract.id, meal_type=m, category_code=category,
                                          price_tiyn=p) for m, p in world.price.items())
        session.commit()


@pytest.mark.parametrize("category", ["primary_grades", "social_assistance"])
@pytest.mark.parametrize("method", ["roster", "card", "manual"])
def test_roster_and_verdict_follow_one_rule(checked, session_factory, world, terminal_key, category, method):
    _set_category(session_factory, world, category)
    pupils = world.eligible  # five pupils: one without a voucher, four with one in a status
    with session_factory() as session:
        for pupil, status in zip(pupils[1:], STATUSES[1:], strict=False):
            voucher_for(session, pupil, world.school.id, status, today=world.today)
    statuses = [None, *STATUSES[1:]]
    roster = checked.get("/api/v1/terminal/roster", headers=terminal_key.headers()).get_json()
    free = {p["studentId"]: p["freeMealToday"] for p in roster["students"]}
    events = []
    for n, pupil in enumerate(pupils):
        event = meal_event(pupil, n + 1, method=method)
        events.append({**event, "manualReason": "terminal_fault"} if method == "manual" else event)
    results = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers()).get_json()["results"]
    for pupil, status, result in zip(pupils, statuses, results, strict=True):
        expected = EXPECTED[(category, status)]
        assert free[str(pupil.id)] is expected, (category, status)
        assert (result["verdict"] == "billable") is expected, (category, status, result)
        if not expected:
            assert "voucher_not_active" in result["reasons"]


def test_the_rule_itself_on_every_status_and_category() -> None:
    import datetime as dt

    day = dt.date(2026, 12, 3)
    for (category, status), expected in EXPECTED.items():
        state = None if status is None else VoucherState(status, dt.date(2026, 9, 1), dt.date(2027, 5, 31))
        assert meal_covered(state, category, day) is expected
    # An active voucher whose validity begins later does not cover a targeted ground's meal before it.
    later = VoucherState("active", dt.date(2027, 1, 1), dt.date(2027, 5, 31))
    assert meal_covered(later, "social_assistance", day) is False
    assert meal_covered(later, "primary_grades", day) is True


def test_served_today_is_unknown_when_consent_is_withheld(checked, parent, offers, meals) -> None:
    voucher = str(offers[parent.child.id])
    accepted = checked.post(f"/api/v1/parent/vouchers/{voucher}/accept", headers=parent.headers(),
                            json={"consentTextVersion": CONSENT_VERSION})
    assert accepted.status_code == 200, accepted.get_json()
    assert meals.record(parent.child)["verdict"] == "billable"
    [child] = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"]
    assert child["servedToday"] is True
    assert checked.post(f"/api/v1/parent/vouchers/{voucher}/withdraw", headers=parent.headers()).status_code == 200
    [child] = checked.get("/api/v1/parent/children", headers=parent.headers()).get_json()["items"]
    assert child["today"] is None and child["servedToday"] is None


def test_a_manual_entry_carries_its_reason(checked, session_factory, world, terminal_key, settings) -> None:
    from wallet.keys import load_signing_key, public_keys_of
    from wallet.ledger.verify import verify_all
    from wallet.models import LedgerEntry

    without = meal_event(world.eligible[0], 1, method="manual")
    stray = {**meal_event(world.eligible[1], 2, method="card"), "manualReason": "other"}
    unknown = {**meal_event(world.eligible[2], 3, method="manual"), "manualReason": "tired"}
    good = {**meal_event(world.eligible[3], 4, method="manual"), "manualReason": "card_forgotten"}
    results = checked.post(EVENTS, json=batch(without, stray, unknown, good),
                           headers=terminal_key.headers()).get_json()["results"]
    assert [r["status"] for r in results] == ["invalid", "invalid", "invalid", "recorded"]
    assert all(r["errors"][0]["field"].endswith("manualReason") for r in results[:3])
    with session_factory() as session:
        [entry] = session.scalars(select(LedgerEntry)).all()
        assert entry.manual_reason == "card_forgotten" and '"manualReason":"card_forgotten"' in entry.payload
    reports = verify_all(session_factory, public_keys_of(load_signing_key(settings)))
    assert reports and all(r.ok for r in reports), [r.describe() for r in reports]
