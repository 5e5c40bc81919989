"""GET /api/v1/auditor/reconciliations: figures, scopes and roles, bad input; every response checked against
openapi.yaml."""

import datetime as dt

import pytest

from api.auth import dev_idp
from tests.reconciliation_world import build_scenario


def staff(settings, **claims):
    return {"Authorization": f"Bearer {dev_idp.issue_token(settings, 'staff-1', claims)}"}


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def url(scenario, **params):
    query = "&".join(f"{k}={v}" for k, v in {"month": scenario.month, **params}.items())
    return f"/api/v1/auditor/reconciliations?{query}"


def test_an_auditor_reconciles_the_month_of_their_region(checked, settings, scenario):
    w = scenario.world
    response = checked.get(url(scenario, region=w.region.code), headers=staff(settings, role="auditor",
                                                                               region=w.region.code))
    assert response.status_code == 200
    body = response.get_json()
    assert body["format"] == "wallet-reconciliation/v1" and body["scope"] == f"region:{w.region.code}"
    assert body["month"] == scenario.month and body["closed"] is False and body["iin"] == "full"
    lunch = w.price["lunch"]
    totals = body["totals"]
    assert (totals["meals"], totals["voids"], totals["netMeals"]) == (16, 1, 15)
    assert (totals["amountTiyn"], totals["voidAmountTiyn"], totals["netAmountTiyn"]) == (16 * lunch, lunch, 15 * lunch)
    assert totals["payableTiyn"] == 15 * lunch and totals["adjustmentAmountTiyn"] == 0
    assert (totals["attempts"], totals["refused"]) == (19, 3)
    assert (totals["refusedDuplicateMeal"], totals["refusedNotEligible"], totals["refusedNotServingDay"]) == (1, 1, 1)
    assert (totals["late"], totals["lateBillable"]) == (1, 1)
    assert totals["ceiling"] == 3 * 5 * len(scenario.serving)  # three meal types priced, five eligible pupils

    lines = {(ln["category"], ln["mealType"]): ln for ln in body["lines"]}
    assert set(lines) == {("primary_grades", "breakfast"), ("primary_grades", "lunch"), ("primary_grades", "snack"),
                          (None, "lunch")}
    lunch_line = lines[("primary_grades", "lunch")]
    assert lunch_line["schoolBin"] == w.school.bin and lunch_line["supplierBin"] == w.supplier.bin
    assert (lunch_line["netMeals"], lunch_line["ceiling"]) == (15, 5 * len(scenario.serving))
    assert lunch_line["ceilingRatio"] == round(15 / (5 * len(scenario.serving)), 4)
    assert lines[(None, "lunch")]["refusedNotEligible"] == 1 and lines[(None, "lunch")]["ceilingRatio"] is None

    anomalies = {(d["day"], d["anomaly"]) for d in body["days"]}
    assert len([a for a in anomalies if a[1] == "no_meals_on_serving_day"]) == len(scenario.serving) - 4
    assert any(a[1] == "meals_on_non_serving_day" for a in anomalies)
    assert body["sequenceGaps"] == [{"schoolBin": w.school.bin, "terminalId": "T-scn-1", "firstMissing": 18,
                                     "lastMissing": 18, "missing": 1}]
    assert [(c["anomaly"], c["iin"]) for c in body["children"]] == [("repeated_meal_attempts", w.eligible[0].iin)]
    assert {c["schoolBin"] for c in body["checkpoints"]} == {w.school.bin, w.other_school.bin}
    assert all(c["frozen"] is False for c in body["checkpoints"])


def test_a_school_admin_sees_their_school_and_a_supplier_its_lines_with_masked_iins(checked, settings, scenario):
    w = scenario.world
    admin = checked.get(url(scenario), headers=staff(settings, role="school_admin", school=w.school.bin)).get_json()
    assert admin["scope"] == f"school:{w.school.bin}" and admin["totals"]["netMeals"] == 15
    assert [c["schoolBin"] for c in admin["checkpoints"]] == [w.school.bin]
    supplier = checked.get(url(scenario), headers=staff(settings, role="supplier", supplier=w.supplier.bin))
    body = supplier.get_json()
    assert supplier.status_code == 200 and body["scope"] == f"all supplier:{w.supplier.bin}"
    assert body["iin"] == "masked" and body["children"][0]["iin"] == w.eligible[0].iin[:4] + "******" + \
        w.eligible[0].iin[-2:]
    assert {ln["supplierBin"] for ln in body["lines"]} == {w.supplier.bin}
    narrowed = checked.get(url(scenario, school=w.school.bin), headers=staff(settings, role="operator")).get_json()
    assert narrowed["totals"] == admin["totals"]


@pytest.mark.parametrize(
    ("claims", "params", "status", "code"),
    [
        ({"role": "auditor", "region": "KZ-19"}, {"region": "KZ-71"}, 404, "region_not_found"),
        ({"role": "auditor", "region": "KZ-19"}, {"school": "SCHOOL"}, 404, "school_not_found"),
        ({"role": "school_admin", "school": "990340000024"}, {"school": "SCHOOL"}, 404, "school_not_found"),
        ({"role": "school_admin", "school": "SCHOOL"}, {"region": "KZ-19"}, 404, "region_not_found"),
        ({"role": "supplier", "supplier": "990340000024"}, {}, 403, "unknown_supplier"),
        ({"role": "parent"}, {}, 403, "forbidden"),
        ({"role": "operator"}, {"region": "KZ-99"}, 404, "region_not_found"),
    ],
)
def test_what_lies_outside_the_scope_is_refused(checked, settings, scenario, claims, params, status, code):
    school = scenario.world.school.bin
    claims = {k: (school if v == "SCHOOL" else v) for k, v in claims.items()}
    params = {k: (school if v == "SCHOOL" else v) for k, v in params.items()}
    response = checked.get(url(scenario, **params), headers=staff(settings, **claims))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json" and response.get_json()["code"] == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("month=2026-13", "invalid_month"),
        ("month=2026-9", "invalid_month"),
        ("month=sept", "invalid_month"),
        ("month=1999-12", "invalid_month"),
        ("month=2099-01", "month_in_future"),
        ("", "validation_failed"),
        ("month=MONTH&region=KZ-71&school=123456789012", "validation_failed"),
        ("month=MONTH&school=12ab", "validation_failed"),
    ],
)
def test_bad_months_and_scopes_are_422(checked, settings, scenario, query, code):
    response = checked.get(f"/api/v1/auditor/reconciliations?{query.replace('MONTH', scenario.month)}",
                           headers=staff(settings, role="operator"))
    assert response.status_code == 422 and response.get_json()["code"] == code


def test_tokens_are_required(checked, settings, scenario):
    assert checked.get(url(scenario)).status_code == 401


def test_a_month_without_entries_is_an_empty_reconciliation(checked, settings, scenario):
    first = scenario.first - dt.timedelta(days=40)
    body = checked.get(f"/api/v1/auditor/reconciliations?month={first:%Y-%m}",
                       headers=staff(settings, role="operator")).get_json()
    assert body["totals"]["meals"] == 0 and body["totals"]["ceilingRatio"] is None
    assert body["sequenceGaps"] == [] and body["children"] == [] and body["adjustments"] == []
