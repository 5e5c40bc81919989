"""GET /api/v1/auditor/payment-registry and its export: a closed month only, equal to the reconciliation's
payable amount; roles and scopes; bad input; every response checked against openapi.yaml."""

import json
import re

import pytest

from api.auth import dev_idp
from tests.api.test_reconciliation_api import staff
from tests.api.test_reconciliation_exports import csv_sections, xlsx_parts
from tests.parent_factories import PARENT_IIN
from tests.reconciliation_world import build_scenario


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def close(checked, settings, scenario):
    response = checked.post("/api/v1/auditor/periods", json={"region": scenario.world.region.code,
                                                             "month": scenario.month},
                            headers=staff(settings, role="operator"))
    assert response.status_code == 201, response.get_data(as_text=True)


def registry(checked, settings, scenario, path="payment-registry", claims=None, **params):
    query = "&".join(f"{k}={v}" for k, v in {"month": scenario.month, **params}.items())
    return checked.get(f"/api/v1/auditor/{path}?{query}", headers=staff(settings, **(claims or {"role": "operator"})))


def test_a_closed_month_is_paid_as_the_reconciliation_says(checked, settings, scenario):
    w = scenario.world
    refused = registry(checked, settings, scenario, region=w.region.code)
    assert refused.status_code == 409 and refused.get_json()["code"] == "month_not_closed"
    close(checked, settings, scenario)
    auditor = {"role": "auditor", "region": w.region.code}
    response = registry(checked, settings, scenario, claims=auditor, region=w.region.code)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    rec = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}&region={w.region.code}",
                      headers=staff(settings, **auditor)).get_json()
    assert body["format"] == "wallet-payment-registry/v1" and body["closed"] is True
    assert body["totals"]["dueTiyn"] == rec["totals"]["payableTiyn"] == 15 * w.price["lunch"]
    assert body["checkpointsDigest"] == rec["checkpointsDigest"] and body["generatedAt"] == rec["generatedAt"]
    assert [(s["supplierBin"], s["dueTiyn"]) for s in body["suppliers"]] == [(w.supplier.bin, 15 * w.price["lunch"])]
    assert [(c["contractNumber"], c["schoolBin"]) for c in body["contracts"]] == [("C-1", w.school.bin)]
    assert [(ln["category"], ln["mealType"], ln["meals"]) for ln in body["lines"]] == [
        ("primary_grades", "lunch", 15)]
    assert all(c["frozen"] for c in body["checkpoints"])
    supplier = registry(checked, settings, scenario, claims={"role": "supplier", "supplier": w.supplier.bin})
    assert supplier.status_code == 200 and supplier.get_json()["totals"]["dueTiyn"] == 15 * w.price["lunch"]


def test_roles_and_scopes(checked, settings, scenario):
    w = scenario.world
    close(checked, settings, scenario)
    admin = registry(checked, settings, scenario, claims={"role": "school_admin", "school": w.school.bin})
    assert admin.status_code == 403
    other = registry(checked, settings, scenario, claims={"role": "auditor", "region": "KZ-19"},
                     region=w.region.code)
    assert other.status_code == 404 and other.get_json()["code"] == "region_not_found"
    parent = checked.get(f"/api/v1/auditor/payment-registry?month={scenario.month}",
                         headers={"Authorization": "Bearer " + dev_idp.issue_token(settings, PARENT_IIN,
                                                                                   {"role": "parent"})})
    assert parent.status_code == 403
    assert checked.get(f"/api/v1/auditor/payment-registry?month={scenario.month}").status_code == 401


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"month": "2026-00"}, 422, "invalid_month"),
    ({"month": "2099-12"}, 422, "month_in_future"),
    ({"region": "KZ-99"}, 404, "region_not_found"),
    ({"region": "no spaces"}, 422, "validation_failed"),
    ({"format": "pdf"}, 422, "validation_failed"),
])
def test_bad_input(checked, settings, scenario, params, status, code):
    close(checked, settings, scenario)
    path = "payment-registry/export" if "format" in params else "payment-registry"
    response = registry(checked, settings, scenario, path=path, **params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["code"] == code


def test_exports_are_reproducible_and_named(checked, settings, scenario):
    w = scenario.world
    close(checked, settings, scenario)
    files = {}
    for fmt in ("csv", "xlsx", "json"):
        first = registry(checked, settings, scenario, path="payment-registry/export", region=w.region.code,
                         format=fmt)
        second = registry(checked, settings, scenario, path="payment-registry/export", region=w.region.code,
                          format=fmt)
        assert first.status_code == 200 and first.data == second.data
        assert re.search(rf"payment-registry-region-{w.region.code}-{scenario.month}-\d{{8}}T\d{{6}}Z-[0-9a-f]{{16}}"
                         rf"\.{fmt}", first.headers["Content-Disposition"])
        files[fmt] = first.data
    sections = csv_sections(files["csv"])
    assert set(sections) == {"meta", "totals", "suppliers", "contracts", "lines", "checkpoints"}
    assert dict(sections["meta"][1:])["closed"] == "true"
    assert "xl/workbook.xml" in xlsx_parts(files["xlsx"])
    shown = registry(checked, settings, scenario, region=w.region.code).get_json()
    assert json.loads(files["json"]) == shown
