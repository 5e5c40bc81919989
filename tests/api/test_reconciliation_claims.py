"""Suppliers' claims: CSV and JSON, every difference from the ledger listed with totals, bad files refused
whole with line numbers, closed months refused. Responses checked against openapi.yaml."""

import pytest

from tests.api.test_reconciliation_api import staff
from tests.reconciliation_world import build_scenario

HEADER = "school_bin,day,meal_type,meals,amount_tiyn\n"


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def post_claim(checked, settings, scenario, body, content_type="text/csv", supplier_query="", lang=None, **claims):
    claims = claims or {"role": "supplier", "supplier": scenario.world.supplier.bin}
    headers = staff(settings, **claims) | ({"Accept-Language": lang} if lang else {})
    return checked.post(f"/api/v1/auditor/claims?month={scenario.month}{supplier_query}", data=body,
                        content_type=content_type, headers=headers)


def ledger_csv(scenario, change=None):
    """The claim that matches the ledger (5 net lunches on day 1, 5 on day 2 and 3, 1 on day 4), edited."""
    w, lunch = scenario.world, scenario.world.price["lunch"]
    counts = {scenario.serving[0]: 4, scenario.serving[1]: 5, scenario.serving[2]: 5, scenario.serving[3]: 1}
    counts.update(change or {})
    return HEADER + "".join(f"{w.school.bin},{day},lunch,{n},{n * lunch}\n" for day, n in counts.items())


def test_a_supplier_claim_that_matches_the_ledger_has_no_differences(checked, settings, scenario):
    response = post_claim(checked, settings, scenario, "\ufeff" + ledger_csv(scenario))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["version"], body["lines"], body["totalMeals"], body["sourceFormat"]) == (1, 4, 15, "csv")
    rec = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}",
                      headers=staff(settings, role="operator")).get_json()
    assert rec["claimDifferences"] == []
    supplier_total = next(t for t in rec["claimTotals"] if t["schoolBin"] is None)
    assert supplier_total["claimedMeals"] == supplier_total["ledgerMeals"] == 15
    assert supplier_total["amountDifferenceTiyn"] == 0
    assert rec["claims"][0]["claimId"] == body["claimId"]


def test_every_difference_is_listed_by_school_and_day_with_totals(checked, settings, scenario):
    lunch = scenario.world.price["lunch"]
    extra_day = scenario.serving[6]
    csv = ledger_csv(scenario, {scenario.serving[1]: 6, extra_day: 3})
    csv = csv.replace(f"{scenario.world.school.bin},{scenario.serving[3]},lunch,1,{lunch}\n", "")  # not claimed
    assert post_claim(checked, settings, scenario, csv).status_code == 201
    rec = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}",
                      headers=staff(settings, role="auditor", region=scenario.world.region.code)).get_json()
    differences = {d["day"]: (d["claimedMeals"], d["ledgerMeals"], d["mealsDifference"], d["amountDifferenceTiyn"])
                   for d in rec["claimDifferences"]}
    assert differences == {str(scenario.serving[1]): (6, 5, 1, lunch), str(extra_day): (3, 0, 3, 3 * lunch),
                           str(scenario.serving[3]): (0, 1, -1, -lunch)}
    totals = {t["schoolBin"]: t for t in rec["claimTotals"]}
    assert totals[None]["mealsDifference"] == 3 and totals[scenario.world.school.bin]["claimedMeals"] == 18
    # A second submission replaces the first in the reconciliation; both are kept.
    assert post_claim(checked, settings, scenario, ledger_csv(scenario)).get_json()["version"] == 2
    listed = checked.get(f"/api/v1/auditor/claims?month={scenario.month}",
                         headers=staff(settings, role="operator")).get_json()["items"]
    assert [c["version"] for c in listed] == [1, 2]


def test_json_claims_and_claims_on_behalf_of_a_supplier(checked, settings, scenario):
    w = scenario.world
    document = {"month": scenario.month, "lines": [
        {"schoolBin": w.school.bin, "day": str(scenario.serving[0]), "mealType": "lunch", "meals": 4,
         "amountTiyn": 4 * w.price["lunch"]}]}
    response = post_claim(checked, settings, scenario, None, content_type="application/json",
                          supplier_query=f"&supplier={w.supplier.bin}", role="operator")
    assert response.status_code == 400  # no body
    response = checked.post(f"/api/v1/auditor/claims?month={scenario.month}&supplier={w.supplier.bin}",
                            json=document, headers=staff(settings, role="operator"))
    assert response.status_code == 201 and response.get_json()["sourceFormat"] == "json"
    assert checked.post(f"/api/v1/auditor/claims?month={scenario.month}", json=document,
                        headers=staff(settings, role="operator")).status_code == 422  # which supplier?


def test_a_claim_with_bad_rows_is_refused_whole_with_line_numbers(checked, settings, scenario):
    w = scenario.world
    bad = (HEADER + f"{w.school.bin},{scenario.serving[0]},lunch,4,340000\n"
           f"{w.school.bin},2020-01-01,lunch,1,100\n"          # line 3: another month
           f"12345,{scenario.serving[0]},brunch,-1,x\n"          # line 4: four bad cells
           f"{w.other_school.bin},{scenario.serving[0]},lunch,1,100\n"  # line 5: no contract there
           f"{w.school.bin},{scenario.serving[0]},lunch,4,340000\n"     # line 6: repeats line 2
           "only,three,cells\n")                                   # line 7
    response = post_claim(checked, settings, scenario, bad)
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_claim"
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert "line 7" in fields
    assert {"line 4/school_bin", "line 4/meal_type", "line 4/meals", "line 4/amount_tiyn"} <= set(fields)
    # The rows that parse are then checked against the registry, still before anything is stored.
    fixed = bad.replace("12345,", f"{w.school.bin},").replace("brunch,-1,x", "snack,1,100").replace(
        "only,three,cells\n", "")
    response = post_claim(checked, settings, scenario, fixed)
    messages = " ".join(e["message"] for e in response.get_json()["errors"])
    assert response.status_code == 422
    # in the reader's language, Russian by default, the line's word too; the field's path stays "line 3"
    assert "строка 3: день 2020-01-01 не входит в" in messages and "строка 5: у поставщика" in messages
    assert "строка 6: то же, что строка 2" in messages
    assert {"line 3/day", "line 5/school", "line 6"} <= {e["field"] for e in response.get_json()["errors"]}
    english = post_claim(checked, settings, scenario, fixed, lang="en").get_json()
    assert "line 3: day 2020-01-01 is not in" in " ".join(e["message"] for e in english["errors"])
    listed = checked.get(f"/api/v1/auditor/claims?month={scenario.month}",
                         headers=staff(settings, role="operator")).get_json()["items"]
    assert listed == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("", "text/csv", 422, "invalid_claim"),
        (HEADER, "text/csv", 422, "empty_claim"),
        ("school;day\n", "text/csv", 422, "invalid_claim"),
        (b"\xff\xfe bad", "text/csv", 422, "invalid_claim"),
        ("{", "application/json", 400, "malformed_json"),
        ('{"lines": [{"schoolBin": 1}]}', "application/json", 422, "invalid_claim"),
        ('{"rows": []}', "application/json", 422, "invalid_claim"),
        ("a,b", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_bad_claim_files(checked, settings, scenario, body, content_type, status, code):
    response = post_claim(checked, settings, scenario, body, content_type=content_type)
    assert response.status_code == status and response.get_json()["code"] == code


def test_who_may_claim(checked, settings, scenario):
    csv = ledger_csv(scenario)
    w = scenario.world
    assert post_claim(checked, settings, scenario, csv, role="auditor").status_code == 403
    assert post_claim(checked, settings, scenario, csv, role="school_admin", school=w.school.bin).status_code == 403
    assert post_claim(checked, settings, scenario, csv, role="supplier", supplier="999999999999").status_code == 403
    other = post_claim(checked, settings, scenario, csv, supplier_query="&supplier=999999999999")
    assert other.status_code == 404
    assert checked.post("/api/v1/auditor/claims?month=2026-13", data=csv, content_type="text/csv",
                        headers=staff(settings, role="supplier", supplier=w.supplier.bin)).status_code == 422


def test_a_claim_for_a_closed_month_is_refused(checked, settings, scenario):
    closed = checked.post("/api/v1/auditor/periods", json={"region": scenario.world.region.code,
                                                           "month": scenario.month},
                          headers=staff(settings, role="operator"))
    assert closed.status_code == 201
    response = post_claim(checked, settings, scenario, ledger_csv(scenario))
    assert response.status_code == 409 and response.get_json()["code"] == "period_closed"


def test_a_claims_row_errors_read_in_the_readers_words_with_the_paths_as_data(checked, settings, scenario):
    document = '{"lines": [{"schoolBin": 1, "day": "2026-01-01", "mealType": "brunch", "meals": -1, "amountTiyn": 1}]}'
    body = post_claim(checked, settings, scenario, document, content_type="application/json", lang="ru").get_json()
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert messages["lines/0/schoolBin"] == "lines/0/schoolBin: должен быть 12-значным БИН в виде строки"
    assert messages["lines/0/meals"].startswith("lines/0/meals: должно быть целым числом от 0 до ")
    assert messages["lines/0/mealType"].startswith("lines/0/mealType: должно быть одним из: ")
    assert body["detail"].startswith("заявка отклонена, ничего не сохранено: lines/0/")
    csv = post_claim(checked, settings, scenario, HEADER + "only,three,cells\n", lang="kk").get_json()
    assert [e["field"] for e in csv["errors"]] == ["line 2"] and csv["errors"][0]["message"].startswith("2-жол: ")
