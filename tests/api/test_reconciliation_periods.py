"""Period close: operators only, once, after the month ended; a signed checkpoint per school; a closed month
reproducible to the byte; late events counted as adjustments of the month they arrive in."""

import datetime as dt
import json

import pytest

from tests.api.test_reconciliation_api import staff
from tests.reconciliation_world import build_scenario, local, void
from wallet.keys import load_signing_key
from wallet.ledger.signing import verify_checkpoint


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def close(checked, settings, region, month, **claims):
    return checked.post("/api/v1/auditor/periods", json={"region": region, "month": month},
                        headers=staff(settings, **(claims or {"role": "operator"})))


def test_an_operator_closes_a_month_once(checked, settings, scenario):
    w = scenario.world
    response = close(checked, settings, w.region.code, scenario.month)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["region"], body["month"], body["schools"]) == (w.region.code, scenario.month, 2)
    key = load_signing_key(settings)
    by_school = {c["schoolBin"]: c for c in body["checkpoints"]}
    assert by_school[w.school.bin]["treeSize"] == 20 and by_school[w.other_school.bin]["treeSize"] == 0
    for c in body["checkpoints"]:
        signed = {"body": json.loads(c["body"]), "signature": c["signature"], "keyId": c["keyId"]}
        assert verify_checkpoint(signed, key.public_key_raw)
    again = close(checked, settings, w.region.code, scenario.month)
    assert again.status_code == 409 and again.get_json()["code"] == "period_already_closed"
    listed = checked.get(f"/api/v1/auditor/periods?region={w.region.code}",
                         headers=staff(settings, role="auditor", region=w.region.code)).get_json()["items"]
    assert [(p["month"], p["schools"]) for p in listed] == [(scenario.month, 2)]
    assert checked.get("/api/v1/auditor/periods", headers=staff(settings, role="auditor", region="KZ-19")
                       ).get_json()["items"] == []


@pytest.mark.parametrize(
    ("body", "claims", "status", "code"),
    [
        ({"region": "KZ-71", "month": "MONTH"}, {"role": "auditor", "region": "KZ-71"}, 403, "forbidden"),
        ({"region": "KZ-71", "month": "MONTH"}, {"role": "school_admin", "school": "000000000000"}, 403, "forbidden"),
        ({"region": "KZ-99", "month": "MONTH"}, {"role": "operator"}, 404, "region_not_found"),
        ({"region": "KZ-71", "month": "CURRENT"}, {"role": "operator"}, 422, "period_not_over"),
        ({"region": "KZ-71", "month": "2026-13"}, {"role": "operator"}, 422, "invalid_month"),
        ({"region": "KZ-71"}, {"role": "operator"}, 422, "validation_failed"),
    ],
)
def test_bad_closes(checked, settings, scenario, body, claims, status, code):
    current = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    body = {k: v.replace("MONTH", scenario.month).replace("CURRENT", f"{current:%Y-%m}") for k, v in body.items()}
    response = checked.post("/api/v1/auditor/periods", json=body, headers=staff(settings, **claims))
    assert response.status_code == status and response.get_json()["code"] == code


def test_a_closed_month_is_reproducible_and_late_events_adjust_the_next_month(
    checked, settings, scenario, session_factory
):
    w, lunch = scenario.world, scenario.world.price["lunch"]
    operator = staff(settings, role="operator")
    assert close(checked, settings, w.region.code, scenario.month).status_code == 201

    def files():
        return {fmt: checked.get(f"/api/v1/auditor/{what}/export?month={scenario.month}&format={fmt}",
                                 headers=operator).data
                for what in ("reconciliations", "entries") for fmt in ("csv", "json", "xlsx")}

    before = files()
    shown = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}", headers=operator).get_json()
    assert shown["closed"] is True and all(c["frozen"] and c["checkpointId"] for c in shown["checkpoints"])

    # After the close: a late lunch for the closed month arrives next month, and a closed-month lunch is voided.
    next_first = scenario.last + dt.timedelta(days=1)
    arrival = local(next_first + dt.timedelta(days=2), 10)
    late = scenario.recorder.meal(w.eligible[3], local(scenario.serving[5], 12), received_at=arrival)
    void(session_factory, scenario.meal_ids[1], arrival + dt.timedelta(minutes=5))

    assert files() == before  # byte for byte
    again = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}", headers=operator).get_json()
    assert again == shown

    following = checked.get(f"/api/v1/auditor/reconciliations?month={next_first:%Y-%m}",
                            headers=operator).get_json()
    assert following["closed"] is False
    assert following["adjustments"] == [{
        "schoolBin": w.school.bin, "supplierBin": w.supplier.bin, "category": "primary_grades", "mealType": "lunch",
        "servingMonth": scenario.month, "meals": 1, "mealAmountTiyn": lunch, "voids": 1, "voidAmountTiyn": lunch,
        "netAmountTiyn": 0,
    }]
    totals = following["totals"]
    assert (totals["adjustmentMeals"], totals["adjustmentVoids"], totals["payableTiyn"]) == (1, 1, 0)
    entries = checked.get(f"/api/v1/auditor/entries/export?month={scenario.month}&format=json",
                          headers=operator).get_json()
    assert late not in {e["entryId"] for e in entries["entries"]}
