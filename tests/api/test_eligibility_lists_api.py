"""POST/GET /api/v1/auditor/schools/{schoolBin}/eligibility-lists, checked against openapi.yaml."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.factories import an_iin
from tests.parent_factories import assert_problem, staff_headers
from wallet.models import EligibilityList, Voucher
from wallet.months import Month

HEADER = "school_bin,month,iin,category\n"


def _url(world, school=None) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/auditor/schools/{(school or world.school).bin}/eligibility-lists"


def _csv(world, month, pupils, category="primary_grades") -> bytes:  # type: ignore[no-untyped-def]
    return (HEADER + "".join(f"{world.school.bin},{month},{p.iin},{category}\n" for p in pupils)).encode()


@pytest.fixture
def admin(settings, world):  # type: ignore[no-untyped-def]
    return staff_headers(settings, "school_admin", school=world.school.bin)


def test_csv_list_then_next_month_as_json_with_differences(checked, world, admin, session_factory) -> None:
    month = Month.of(world.today)
    first = checked.post(_url(world), headers=admin, data=_csv(world, month, world.eligible[:3]),
                         content_type="text/csv")
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert body["month"] == str(month) and body["previousMonth"] is None
    assert len(body["pupils"]) == 3 and len(body["changes"]["added"]) == 3
    assert body["vouchers"]["offered"] == 3
    assert world.eligible[0].iin not in first.get_data(as_text=True)  # masked
    nxt = month.next()
    second = checked.post(_url(world), headers=admin, json={"month": str(nxt), "pupils": [
        {"iin": world.eligible[1].iin, "category": "primary_grades"},
        {"iin": world.eligible[2].iin, "category": "orphan"},
        {"iin": world.eligible[3].iin, "category": "primary_grades"}]})
    assert second.status_code == 201, second.get_data(as_text=True)
    changes = second.get_json()["changes"]
    assert [len(changes[k]) for k in ("added", "removed", "categoryChanged")] == [1, 1, 1]
    assert changes["categoryChanged"][0]["previousCategory"] == "primary_grades"
    assert changes["categoryChanged"][0]["category"] == "orphan"
    got = checked.get(f"{_url(world)}?month={nxt}", headers=admin)
    assert got.status_code == 200 and got.get_json()["vouchers"] is None
    assert got.get_json()["previousMonth"] == str(month)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityList)) == 2




def test_bad_rows_are_all_reported_and_nothing_written(checked, world, admin, session_factory) -> None:
    month = Month.of(world.today)
    text = (HEADER + f"{world.school.bin},{month},123,primary_grades\n"
            + f"{world.school.bin},{month},{world.elsewhere.iin},primary_grades\n"
            + f"{world.school.bin},{month},{an_iin(dt.date(2016, 5, 5))},primary_grades\n"
            + f"{world.school.bin},{month},{world.eligible[0].iin},astronauts\n")
    body = assert_problem(checked.post(_url(world), headers=admin, data=text, content_type="text/csv"), 422,
                          "eligibility_list_invalid")
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["line 2/iin", "line 3/iin", "line 4/iin", "line 5/category"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityList)) == 0
        assert session.scalar(select(func.count()).select_from(Voucher)) == 0


@pytest.mark.parametrize("document,field", [
    ({"month": "2026-13", "pupils": [{"iin": "x", "category": "y"}]}, "month"),
    ({"month": "1999-01", "pupils": [{"iin": "x", "category": "y"}]}, "month"),
    ({"pupils": []}, "month"),
    ({"month": "2026-12"}, "pupils"),
    ([], "pupils"),
    ({"month": "2026-12", "pupils": [1]}, "pupils/0"),
    ({"month": "2026-12", "pupils": [{"iin": 5, "category": "primary_grades", "x": 1}]}, "pupils/0/iin"),
])
def test_bad_json_lists(checked, world, admin, document, field) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(checked.post(_url(world), headers=admin, json=document), 422, "eligibility_list_invalid")
    assert field in [e["field"] for e in body["errors"]]


def test_wrong_month_and_other_schools_pupils_in_json(checked, world, admin) -> None:
    far = Month.of(world.today + dt.timedelta(days=100))
    body = assert_problem(checked.post(_url(world), headers=admin, json={"month": str(far), "pupils": [
        {"iin": world.elsewhere.iin, "category": "primary_grades"}]}), 422, "eligibility_list_invalid")
    assert {e["field"] for e in body["errors"]} == {"month", "pupils/0/iin"}


def test_a_csv_for_another_school(checked, world, admin) -> None:
    month = Month.of(world.today)
    text = HEADER + f"{world.other_school.bin},{month},{world.eligible[0].iin},primary_grades\n"
    body = assert_problem(checked.post(_url(world), headers=admin, data=text, content_type="text/csv"), 422,
                          "eligibility_list_invalid")
    assert "line 2/school_bin" in [e["field"] for e in body["errors"]]


def test_content_types_and_files(checked, world, admin) -> None:
    assert_problem(checked.post(_url(world), headers=admin, data="x", content_type="text/plain"), 415,
                   "unsupported_media_type")
    assert_problem(checked.post(_url(world), headers=admin, data="{", content_type="application/json"), 400,
                   "malformed_json")
    for data in (b"", b"\xff\xfe", b"iin;category\n1;2\n", HEADER.encode()):
        assert_problem(checked.post(_url(world), headers=admin, data=data, content_type="text/csv"), 422,
                       "eligibility_list_invalid")


def test_roles_and_scope(checked, world, settings, admin) -> None:
    month = Month.of(world.today)
    data = _csv(world, month, world.eligible[:1])
    for role in ("auditor", "supplier"):
        assert_problem(checked.post(_url(world), headers=staff_headers(settings, role), data=data,
                                    content_type="text/csv"), 403, "forbidden")
    other_admin = staff_headers(settings, "school_admin", school=world.other_school.bin)
    assert_problem(checked.post(_url(world), headers=other_admin, data=data, content_type="text/csv"), 404,
                   "school_not_found")
    assert_problem(checked.post(_url(world, world.other_school), headers=admin, data=data,
                                content_type="text/csv"), 404, "school_not_found")
    assert_problem(checked.post(_url(world), data=data, content_type="text/csv"), 401, "unauthorized")
    operator = staff_headers(settings, "operator")
    assert checked.post(_url(world), headers=operator, data=data, content_type="text/csv").status_code == 201
    auditor = staff_headers(settings, "auditor", region=world.region.code)
    assert checked.get(f"{_url(world)}?month={month}", headers=auditor).status_code == 200
    assert_problem(checked.get(f"{_url(world)}?month={month}", headers=staff_headers(settings, "supplier")), 403,
                   "forbidden")


def test_get_bad_and_missing_months(checked, world, admin) -> None:
    assert_problem(checked.get(_url(world), headers=admin), 422, "validation_failed")
    assert_problem(checked.get(f"{_url(world)}?month=2026-1", headers=admin), 422, "invalid_month")
    assert_problem(checked.get(f"{_url(world)}?month=2026-01", headers=admin), 404, "eligibility_list_not_found")


@pytest.mark.parametrize(("school", "code"), [
    ("12345678901", "school_not_found"), ("１２３４５６７８９０１２", "school_not_found"),
    ("x" * 64, "school_not_found"),
    # A control character in a path segment names no route at all (api/security.py TextConverter).
    ("%00", "not_found"), ("a%00b", "not_found")])
def test_a_school_that_is_not_a_bin_is_not_found(checked, world, settings, school, code) -> None:  # type: ignore[no-untyped-def]
    operator = staff_headers(settings, "operator")
    url = f"/api/v1/auditor/schools/{school}/eligibility-lists"
    assert_problem(checked.get(f"{url}?month=2026-01", headers=operator), 404, code)
    assert_problem(checked.post(url, headers=operator, json={"month": "2026-01", "pupils": []}), 404, code)
