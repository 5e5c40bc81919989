"""The whole path of a free meal, through the real HTTP endpoints, on SQLite and PostgreSQL:

the school's monthly eligibility list -> offers in the parents' notifications -> a parent accepts with
consent -> the voucher is active -> the parent gets a QR token -> the terminal records it -> the ingest's
verdict -> the month is closed -> reconciliation, meal sheet and payment registry agree to the tiyn.

Last month is the month that gets paid: its meals are uploaded late (as a terminal that was offline would),
with tokens signed by the service's QR key for the moment they were shown (the issue endpoint signs for
now; today's meal uses a token from it). On the way: a voucher suspended mid-month by the next eligibility
list (QR meals uploaded afterwards are refused `voucher_not_active`), a guardian withdrawing consent (QR
token 403 `consent_required`, later meals refused), a reused token, and a meal uploaded after the close.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

import tests.api.conftest as api_conftest
from tests.factories import batch
from tests.parent_factories import (  # noqa: F401 - fixtures
    PARENT_IIN,
    Parent,
    assert_problem,
    link,
    other_parent_fixture,
    parent_fixture,
    staff_headers,
)
from tests.qr_factories import make_token, qr_event, qr_key
from tests.reconciliation_world import local
from wallet.models import CalendarDay, Voucher
from wallet.months import Month
from wallet.vouchers.years import parse_school_year, school_year_of

V = "/api/v1/parent/vouchers"
checked = api_conftest.checked  # the API tests' client, every response validated against openapi.yaml


@pytest.fixture
def api(request):  # type: ignore[no-untyped-def]
    return request.getfixturevalue("checked")


def _last_month(today: dt.date) -> Month:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return Month.of(first)


@pytest.fixture
def flow_world(world, session_factory):  # type: ignore[no-untyped-def]
    month = _last_month(world.today)
    start, _ = parse_school_year(school_year_of(world.today))
    if month.first_day < start:
        pytest.skip("last month lies outside this school year (June to September): nothing is paid for it")
    days = [month.first_day + dt.timedelta(days=n) for n in (5, 6, 7)]
    with session_factory() as session:
        for day in days:
            session.add(CalendarDay(school_id=world.school.id, day=day, kind="serving"))
        session.commit()
    return month, days


def _post_list(api, settings, world, month: Month, pupils):  # type: ignore[no-untyped-def]
    headers = staff_headers(settings, "school_admin", school=world.school.bin)
    return api.post(f"/api/v1/auditor/schools/{world.school.bin}/eligibility-lists", headers=headers,
                        json={"month": str(month), "pupils": [{"iin": p.iin, "category": "primary_grades"}
                                                               for p in pupils]})


def _accept(api, parent: Parent, child_id: str) -> str:  # type: ignore[no-untyped-def]
    offers = [v for v in api.get(V, headers=parent.headers()).get_json()["items"] if v["childId"] == child_id]
    assert [v["status"] for v in offers] == ["offered"] and offers[0]["canAnswer"]
    one = api.get(f"{V}/{offers[0]['voucherId']}", headers=parent.headers()).get_json()
    accepted = api.post(f"{V}/{one['voucherId']}/accept", headers=parent.headers(),
                            json={"consentTextVersion": one["consentText"]["version"]})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.get_json()["status"] == "active"  # the school year's validity has begun
    return one["voucherId"]


class Terminal:
    def __init__(self, client, key, settings, school_bin):  # type: ignore[no-untyped-def]
        self.client, self.key, self.qr, self.bin, self.seq = client, key, qr_key(settings), school_bin, 0

    def token(self, voucher_id: str, served: dt.datetime) -> str:
        import uuid

        return make_token(self.qr, uuid.UUID(voucher_id), self.bin, not_before=served.timestamp() - 90)

    def record(self, *shown: tuple[str, dt.datetime]) -> list[dict]:
        events = []
        for token, served in shown:
            self.seq += 1
            events.append(qr_event(token, self.seq, served_at=served))
        response = self.client.post("/api/v1/terminal/events", headers=self.key.headers(), json=batch(*events))
        assert response.status_code == 200, response.get_data(as_text=True)
        results = response.get_json()["results"]
        assert all(r["status"] == "recorded" for r in results), results
        return results


def test_from_eligibility_list_to_payment(api, client, settings, world, parent, other_parent, terminal_key,
                                          session_factory, flow_world) -> None:
    month, (d1, d2, d3) = flow_world
    lunch = world.price["lunch"]
    child0, child1, child2, child3 = world.eligible[:4]
    with session_factory() as session:
        link(session, PARENT_IIN, child2)  # the mother of child0 is also child2's
    second = Parent(PARENT_IIN, child2, settings)

    # 1. The social pedagogue's list for last month: four pupils; offers go out at once.
    listed = _post_list(api, settings, world, month, [child0, child1, child2, child3])
    assert listed.status_code == 201, listed.get_data(as_text=True)
    body = listed.get_json()
    assert len(body["changes"]["added"]) == 4 and body["vouchers"]["offered"] == 4
    assert child0.iin not in listed.get_data(as_text=True)  # IINs masked

    # 2. The offer reaches the parents' notifications (which voucher, never why).
    notes = api.get("/api/v1/parent/notifications", headers=parent.headers()).get_json()["items"]
    assert {(n["kind"], n["childId"]) for n in notes} == {("voucher_offered", str(child0.id)),
                                                         ("voucher_offered", str(child2.id))}
    assert all("category" not in str(n) and "primary_grades" not in str(n) for n in notes)
    # Before consent: no QR token, no meals.
    assert_problem(api.post(parent.url("/qr"), headers=parent.headers(), json={"mealType": "lunch"}), 403,
                   "consent_required")
    assert_problem(api.get(parent.url("/meals"), headers=parent.headers()), 403, "consent_required")

    # 3. Guardians accept with consent: the vouchers are active.
    v0 = _accept(api, parent, str(child0.id))
    v1 = _accept(api, other_parent, str(child1.id))
    v2 = _accept(api, second, str(child2.id))

    # 4. Today: a token from the parent's app, recorded by the terminal, billable, visible to the parent.
    issued = api.post(parent.url("/qr"), headers=parent.headers(), json={"mealType": "lunch"})
    assert issued.status_code == 201, issued.get_data(as_text=True)
    assert "primary_grades" not in issued.get_data(as_text=True)
    terminal = Terminal(client, terminal_key, settings, world.school.bin)
    [today_meal] = terminal.record((issued.get_json()["token"], dt.datetime.now(dt.UTC)))
    assert today_meal["verdict"] == "billable" and "priceTiyn" not in today_meal
    assert "primary_grades" not in str(today_meal)
    status = api.get(parent.url("/meals/today"), headers=parent.headers()).get_json()
    assert [m["entryId"] for m in status["meals"] if m["entryId"] is not None] == [today_meal["entryId"]]

    # 5. Last month, first day: every child eats.
    day1 = terminal.record(*[(terminal.token(v, local(d1, 12, n)), local(d1, 12, n))
                             for n, v in enumerate((v0, v1, v2))])
    assert [r["verdict"] for r in day1] == ["billable"] * 3

    # 6. Mid-month: this month's list drops child1 (suspended at once), child2's guardian withdraws consent.
    now_list = _post_list(api, settings, world, Month.of(world.today), [child0, child2, child3])
    assert now_list.status_code == 201, now_list.get_data(as_text=True)
    assert len(now_list.get_json()["changes"]["removed"]) == 1
    assert api.get(f"{V}/{v1}", headers=other_parent.headers()).get_json()["status"] == "suspended"
    assert api.post(f"{V}/{v2}/withdraw", headers=second.headers()).status_code == 200
    assert_problem(api.post(second.url("/qr"), headers=second.headers(), json={"mealType": "lunch"}), 403,
                   "consent_required")
    assert_problem(api.get(second.url("/meals"), headers=second.headers()), 403, "consent_required")
    assert_problem(api.post(other_parent.url("/qr"), headers=other_parent.headers(), json={"mealType": "lunch"}),
                   409, "no_active_voucher")

    # 7. The rest of last month, uploaded after the suspension and the withdrawal.
    day2 = terminal.record(*[(terminal.token(v, local(d2, 12, n)), local(d2, 12, n))
                             for n, v in enumerate((v0, v1, v2))])
    assert [r["verdict"] for r in day2] == ["billable", "not_billable", "not_billable"]
    assert day2[1]["reasons"] == ["voucher_not_active"] and day2[2]["reasons"] == ["voucher_not_active"]
    shown = terminal.token(v0, local(d3, 12))
    day3 = terminal.record((shown, local(d3, 12)), (shown, local(d3, 12, 1)))  # a screenshot shown twice
    assert day3[0]["verdict"] == "billable"
    assert day3[1]["verdict"] == "not_billable" and "qr_token_reused" in day3[1]["reasons"]

    # 8. The parent sees last month's QR meals (and the reads are logged).
    history = api.get(parent.url(f"/meals?from={d1}&to={d3}"), headers=parent.headers()).get_json()["items"]
    assert Counter(item["billable"] for item in history) == Counter({True: 3, False: 1})
    log = api.get(parent.url("/access-log"), headers=parent.headers()).get_json()["items"]
    assert {"qr_token", "meals", "meals_today"} <= {r["action"] for r in log}

    # 9. The month is closed; a late meal for it is kept but refused; the list for it is refused.
    operator = staff_headers(settings, "operator")
    closed = api.post("/api/v1/auditor/periods", headers=operator,
                          json={"region": world.region.code, "month": str(month)})
    assert closed.status_code == 201, closed.get_data(as_text=True)
    [late] = terminal.record((terminal.token(v0, local(d3, 13)), local(d3, 13)))
    assert late["verdict"] == "not_billable" and "period_closed" in late["reasons"]
    assert _post_list(api, settings, world, month, [child0]).status_code == 422

    # 10. Reconciliation, meal sheet and payment registry agree to the tiyn: five lunches.
    expected = 5 * lunch
    auditor = staff_headers(settings, "auditor", region=world.region.code)
    rec = api.get(f"/api/v1/auditor/reconciliations?month={month}&region={world.region.code}",
                      headers=auditor).get_json()
    sheet = api.get(f"/api/v1/auditor/meal-sheets?month={month}&school={world.school.bin}",
                        headers=auditor).get_json()
    paid = api.get(f"/api/v1/auditor/payment-registry?month={month}&region={world.region.code}",
                       headers=auditor).get_json()
    assert rec["totals"]["netAmountTiyn"] == rec["totals"]["payableTiyn"] == expected
    assert rec["totals"]["netMeals"] == 5
    assert sheet["totals"]["amountTiyn"] == expected and sheet["totals"]["meals"] == 5
    assert paid["totals"]["dueTiyn"] == expected
    assert rec["checkpointsDigest"] == paid["checkpointsDigest"]  # the region's checkpoints at the close
    school_rec = api.get(f"/api/v1/auditor/reconciliations?month={month}&school={world.school.bin}",
                             headers=auditor).get_json()
    assert school_rec["totals"]["netAmountTiyn"] == expected
    assert school_rec["checkpointsDigest"] == sheet["checkpointsDigest"]  # the school's own
    per_pupil = {row["studentId"]: row["meals"] for row in sheet["pupils"] if row["meals"]}
    assert per_pupil == {str(child0.id): 3, str(child1.id): 1, str(child2.id): 1}
    supplier = staff_headers(settings, "supplier", supplier=world.supplier.bin)
    for path in (f"meal-sheets?month={month}&school={world.school.bin}",
                 f"meal-sheets/export?month={month}&school={world.school.bin}&format=csv",
                 f"payment-registry/export?month={month}&region={world.region.code}&format=csv"):
        response = api.get(f"/api/v1/auditor/{path}", headers=supplier)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert child0.iin not in text  # masked for the supplier

    with session_factory() as session:
        statuses = dict(session.execute(select(Voucher.id, Voucher.status)).all())
    assert Counter(statuses.values()) == Counter({"active": 1, "suspended": 1, "withdrawn": 1, "offered": 1})
