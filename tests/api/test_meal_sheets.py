"""GET /api/v1/auditor/meal-sheets and its export: figures equal to the reconciliation, scopes and roles,
bad input; every response checked against openapi.yaml."""

import json
import re

import pytest

from api.auth import dev_idp
from tests.api.test_reconciliation_api import staff
from tests.api.test_reconciliation_exports import csv_sections, xlsx_parts
from tests.parent_factories import PARENT_IIN
from tests.reconciliation_world import build_scenario
from wallet.models import Student


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def sheet(checked, settings, scenario, path="meal-sheets", claims=None, **params):
    params = {"month": scenario.month, **params}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return checked.get(f"/api/v1/auditor/{path}?{query}", headers=staff(settings, **(claims or {"role": "operator"})))


def test_the_sheet_of_a_school_agrees_with_its_reconciliation(checked, settings, scenario):
    w = scenario.world
    response = sheet(checked, settings, scenario, claims={"role": "auditor", "region": w.region.code},
                     school=w.school.bin)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    rec = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}&school={w.school.bin}",
                      headers=staff(settings, role="operator")).get_json()
    assert body["format"] == "wallet-meal-sheet/v1" and body["school"] == w.school.bin and body["iin"] == "full"
    assert body["totals"]["amountTiyn"] == rec["totals"]["netAmountTiyn"] == 15 * w.price["lunch"]
    assert body["totals"]["meals"] == rec["totals"]["netMeals"] == 15
    assert body["checkpointsDigest"] == rec["checkpointsDigest"]
    assert [c["className"] for c in body["classes"]] == ["2А"]
    assert body["classes"][0]["pupils"] == 6  # five eligible pupils and one who is not
    rows = {r["studentId"]: r for r in body["pupils"]}
    first = rows[str(w.eligible[0].id)]
    day = scenario.serving[0].isoformat()
    assert first[f"{day} lunch"] == 0  # the meal was voided; its second lunch was refused
    assert first[f"{day} breakfast"] is None
    assert rows[str(w.eligible[1].id)][f"{day} lunch"] == 1
    assert rows[str(w.not_eligible.id)]["refused"] == 1 and rows[str(w.not_eligible.id)]["meals"] == 0
    assert sum(r["amountTiyn"] for r in body["pupils"]) == body["totals"]["amountTiyn"]
    assert sum(d["amountTiyn"] for d in body["days"]) == body["totals"]["amountTiyn"]
    assert [(ln["supplierBin"], ln["mealType"], ln["amountTiyn"]) for ln in body["lines"]] == [
        (w.supplier.bin, "lunch", 15 * w.price["lunch"])]
    assert re.fullmatch(r"\d{12}", first["iin"])


def test_roles_and_scopes(checked, settings, scenario):
    w = scenario.world
    own = sheet(checked, settings, scenario, claims={"role": "school_admin", "school": w.school.bin})
    assert own.status_code == 200 and own.get_json()["school"] == w.school.bin  # one school: no need to name it
    other = sheet(checked, settings, scenario, claims={"role": "school_admin", "school": w.school.bin},
                  school=w.other_school.bin)
    assert other.status_code == 404 and other.get_json()["code"] == "school_not_found"
    elsewhere = sheet(checked, settings, scenario, claims={"role": "auditor", "region": "KZ-19"},
                      school=w.school.bin)
    assert elsewhere.status_code == 404
    supplier = sheet(checked, settings, scenario, claims={"role": "supplier", "supplier": w.supplier.bin},
                     school=w.school.bin)
    body = supplier.get_json()
    assert supplier.status_code == 200 and body["iin"] == "masked" and body["totals"]["meals"] == 15
    assert all("******" in r["iin"] for r in body["pupils"])
    parent = checked.get(f"/api/v1/auditor/meal-sheets?month={scenario.month}&school={w.school.bin}",
                         headers={"Authorization": "Bearer " + dev_idp.issue_token(settings, PARENT_IIN,
                                                                                   {"role": "parent"})})
    assert parent.status_code == 403
    anonymous = checked.get(f"/api/v1/auditor/meal-sheets?month={scenario.month}&school={w.school.bin}")
    assert anonymous.status_code == 401


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"month": "2026-13"}, 422, "invalid_month"),
    ({"month": "next"}, 422, "invalid_month"),
    ({"month": "2099-01"}, 422, "month_in_future"),
    ({"school": "123"}, 422, "validation_failed"),
    ({"school": "999999999999"}, 404, "school_not_found"),
    ({"class": "x" * 17}, 422, "validation_failed"),
    ({"class": "\u0007"}, 422, "validation_failed"),
    ({"school": None}, 422, "validation_failed"),  # an operator sees two schools: name one
    ({"colour": "red"}, 422, "validation_failed"),
])
def test_bad_input(checked, settings, scenario, params, status, code):
    query = {"school": scenario.world.school.bin, **params}
    query = {k: v for k, v in query.items() if v is not None}
    response = sheet(checked, settings, scenario, **query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["code"] == code


def test_a_class_without_pupils_is_an_empty_sheet(checked, settings, scenario):
    w = scenario.world
    response = sheet(checked, settings, scenario, school=w.school.bin, **{"class": "11B"})
    body = response.get_json()
    assert response.status_code == 200 and body["class"] == "11B"
    assert body["pupils"] == [] and body["classes"] == [] and body["totals"]["meals"] == 0
    for fmt in ("csv", "xlsx", "json"):
        exported = sheet(checked, settings, scenario, path="meal-sheets/export", school=w.school.bin,
                         format=fmt, **{"class": "11B"})
        assert exported.status_code == 200 and exported.data


def test_exports(checked, settings, scenario, session_factory):
    w = scenario.world
    with session_factory() as session:
        session.get(Student, w.eligible[1].id).last_name = "=HYPERLINK(\"http://x\")"
        session.commit()
    csv_file = sheet(checked, settings, scenario, path="meal-sheets/export", school=w.school.bin, format="csv")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    disposition = csv_file.headers["Content-Disposition"]
    assert re.search(rf"meal-sheet-school-{w.school.bin}-{scenario.month}-\d{{8}}T\d{{6}}Z-[0-9a-f]{{16}}\.csv",
                     disposition), disposition
    sections = csv_sections(csv_file.data)
    meta = dict(sections["meta"][1:])
    assert meta["format"] == "wallet-meal-sheet/v1" and re.fullmatch(r"[0-9a-f]{64}", meta["checkpointsDigest"])
    assert set(sections) == {"meta", "totals", "classes", "pupils", "days", "lines", "checkpoints"}
    header, *rows = sections["pupils"]
    assert f"{scenario.serving[0].isoformat()} lunch" in header
    assert any(r[header.index("lastName")] == "'=HYPERLINK(\"http://x\")" for r in rows)
    json_file = sheet(checked, settings, scenario, path="meal-sheets/export", school=w.school.bin, format="json")
    shown = sheet(checked, settings, scenario, school=w.school.bin)
    exported, body = json.loads(json_file.data), shown.get_json()
    assert exported.pop("generatedAt") <= body.pop("generatedAt")
    assert exported == body
    xlsx = sheet(checked, settings, scenario, path="meal-sheets/export", school=w.school.bin, format="xlsx", **{
        "class": "2А"})
    assert xlsx.status_code == 200
    parts = xlsx_parts(xlsx.data)
    assert "xl/workbook.xml" in parts and 'state="frozen"' in parts["xl/worksheets/sheet4.xml"]
    assert "class-2_" in xlsx.headers["Content-Disposition"]
