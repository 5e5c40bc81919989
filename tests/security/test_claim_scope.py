"""A supplier's claim is shown to each reader in the reader's scope only: a school administrator sees its own
school's lines and totals, an auditor those of their region, a supplier its own contracts, an operator all.

The supplier serves three schools (A and B in the world's region, C in another region) and claims a
distinctive number of meals at each; every output that shows claims (the claims listing, the reconciliation
as JSON and as CSV, the console's reconciliation page) is read by every reader, and the schools and figures
found must be exactly those of the reader's scope.
"""

from __future__ import annotations

import re

import pytest

from api.auth import dev_idp
from tests.factories import a_bin
from wallet.models import CalendarDay, Contract, ContractPrice, Region, School

CLAIMED = {"A": 313, "B": 5077, "C": 70019}  # meals claimed per school; amounts are meals x 100 tiyn
SCOPES = {"operator": "ABC", "supplier": "ABC", "auditor": "AB", "school_admin": "A", "school_admin_c": "C",
          "auditor_c": "C"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def claimed(client, settings, session_factory, world):
    with session_factory() as session:
        region_c = Region(code="KZ-19", name_kk="Алматы облысы", name_ru="Алматинская область")
        session.add(region_c)
        session.flush()
        school_c = School(bin=a_bin(9), name_kk="№9 мектеп", name_ru="Школа №9", region_id=region_c.id)
        session.add(school_c)
        session.flush()
        contract = session.get(Contract, world.contract.id)
        for number, school_id in (("C-2", world.other_school.id), ("C-3", school_c.id)):
            extra = Contract(number=number, school_id=school_id, supplier_id=world.supplier.id,
                             valid_from=contract.valid_from, valid_to=contract.valid_to)
            extra.prices = [ContractPrice(meal_type="lunch", category_code="primary_grades", price_tiyn=100)]
            session.add(extra)
            session.add(CalendarDay(school_id=school_id, day=world.today, kind="serving"))
        session.commit()
        bins = {"A": world.school.bin, "B": world.other_school.bin, "C": school_c.bin}
    subjects = {"operator": ({"role": "operator"}), "supplier": {"role": "supplier", "supplier": world.supplier.bin},
                "auditor": {"role": "auditor", "region": world.region.code},
                "auditor_c": {"role": "auditor", "region": "KZ-19"},
                "school_admin": {"role": "school_admin", "school": bins["A"]},
                "school_admin_c": {"role": "school_admin", "school": bins["C"]}}
    tokens = {who: dev_idp.issue_token(settings, f"{who}-1", claims) for who, claims in subjects.items()}
    csv = "school_bin,day,meal_type,meals,amount_tiyn\n" + "".join(
        f"{bins[s]},{world.today},lunch,{n},{n * 100}\n" for s, n in CLAIMED.items())
    month = f"{world.today:%Y-%m}"
    posted = client.post(f"/api/v1/auditor/claims?month={month}", data=csv, content_type="text/csv",
                         headers={"Authorization": f"Bearer {tokens['supplier']}"})
    assert posted.status_code == 201, posted.get_data(as_text=True)
    return {"bins": bins, "tokens": tokens, "month": month}


def schools_of(claimed, schools: str) -> set[str]:
    return {claimed["bins"][s] for s in schools}


def meals_of(schools: str) -> int:
    return sum(CLAIMED[s] for s in schools)


@pytest.mark.parametrize("reader", SCOPES)
def test_the_claims_listing_counts_only_the_readers_lines(client, claimed, reader):
    answer = client.get(f"/api/v1/auditor/claims?month={claimed['month']}",
                        headers={"Authorization": f"Bearer {claimed['tokens'][reader]}"})
    assert answer.status_code == 200
    (claim,) = answer.get_json()["items"]
    scope = SCOPES[reader]
    assert (claim["lines"], claim["totalMeals"], claim["totalAmountTiyn"]) == (
        len(scope), meals_of(scope), meals_of(scope) * 100)


@pytest.mark.parametrize("reader", SCOPES)
def test_reconciliations_show_only_the_readers_claim_lines_and_totals(client, claimed, reader):
    headers = {"Authorization": f"Bearer {claimed['tokens'][reader]}"}
    rec = client.get(f"/api/v1/auditor/reconciliations?month={claimed['month']}", headers=headers).get_json()
    scope = SCOPES[reader]
    by_school = {t["schoolBin"]: t["claimedMeals"] for t in rec["claimTotals"]}
    assert by_school == {None: meals_of(scope), **{claimed["bins"][s]: CLAIMED[s] for s in scope}}
    assert {d["schoolBin"] for d in rec["claimDifferences"]} == schools_of(claimed, scope)
    csv = client.get(f"/api/v1/auditor/reconciliations/export?month={claimed['month']}&format=csv",
                     headers=headers).get_data(as_text=True)
    outside = schools_of(claimed, "ABC") - schools_of(claimed, scope)
    assert not any(school in csv for school in outside)
    assert all(school in csv for school in schools_of(claimed, scope))


@pytest.mark.parametrize("reader", SCOPES)
def test_the_console_reconciliation_page_shows_only_the_readers_claim_lines(app, claimed, reader):
    browser = app.test_client()
    page = browser.get("/console/sign-in").get_data(as_text=True)
    signed = browser.post("/console/sign-in", data={"csrf_token": CSRF.search(page).group(1),
                                                   "token": claimed["tokens"][reader]})
    assert signed.status_code == 303
    html = browser.get(f"/console/reconciliation?month={claimed['month']}").get_data(as_text=True)
    html = re.sub(r"(?<=\d)[\u00a0\u202f ](?=\d{3}(?!\d))", "", html)  # the page groups digits (Babel)
    scope = SCOPES[reader]
    outside = schools_of(claimed, "ABC") - schools_of(claimed, scope)
    assert not any(school in html for school in outside)
    assert f">{meals_of(scope)}<" in html
    assert not any(f">{n}<" in html for s, n in CLAIMED.items() if s not in scope and n != meals_of(scope))
