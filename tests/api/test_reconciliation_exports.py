"""Exports of a reconciliation and of the entries underneath it: CSV with a BOM, XLSX, JSON; metadata,
masking, neutralised cells, empty months. Responses checked against openapi.yaml."""

import csv
import datetime as dt
import io
import json
import re
import zipfile

import pytest

from tests.api.test_reconciliation_api import staff
from tests.factories import TerminalKey, batch, meal_event
from tests.reconciliation_world import build_scenario

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def export(checked, settings, scenario, what="reconciliations", fmt="csv", month=None, **claims):
    claims = claims or {"role": "operator"}
    return checked.get(f"/api/v1/auditor/{what}/export?month={month or scenario.month}&format={fmt}",
                       headers=staff(settings, **claims))


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    assert data.startswith(b"\xef\xbb\xbf")
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        if not row:
            current = None
        elif current is None:
            assert row[0] == "table"
            current = sections.setdefault(row[1], [])
        else:
            current.append(row)
    return sections


def xlsx_parts(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_csv_export_of_the_reconciliation(checked, settings, scenario):
    response = export(checked, settings, scenario)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"reconciliation-all-{scenario.month}.csv" in response.headers["Content-Disposition"]
    sections = csv_sections(response.data)
    meta = dict(sections["meta"][1:])
    assert meta["format"] == "wallet-reconciliation/v1" and meta["scope"] == "all" and meta["month"] == scenario.month
    assert meta["closed"] == "false" and re.fullmatch(r"[0-9a-f]{64}", meta["checkpointsDigest"])
    assert dt.datetime.fromisoformat(meta["generatedAt"])
    header, *rows = sections["totals"]
    assert dict(zip(header, rows[0], strict=True))["netAmountTiyn"] == str(15 * scenario.world.price["lunch"])
    assert sections["checkpoints"][0][:3] == ["schoolBin", "treeSize", "rootHash"]
    assert set(sections) == {"meta", "totals", "lines", "adjustments", "days", "sequenceGaps", "children", "claims",
                             "claimTotals", "claimDifferences", "checkpoints"}


def test_json_export_equals_the_reconciliation(checked, settings, scenario):
    exported = export(checked, settings, scenario, fmt="json")
    assert exported.status_code == 200
    shown = checked.get(f"/api/v1/auditor/reconciliations?month={scenario.month}",
                        headers=staff(settings, role="operator"))
    exported_body, shown_body = json.loads(exported.data), json.loads(shown.data)
    assert exported_body.pop("generatedAt") <= shown_body.pop("generatedAt")  # an open month: made now
    assert exported_body == shown_body


def test_xlsx_export_has_a_sheet_per_table_frozen_headers_and_tenge(checked, settings, scenario):
    response = checked.get(f"/api/v1/auditor/reconciliations/export?month={scenario.month}&format=xlsx",
                           headers={**staff(settings, role="operator"), "Accept-Language": "en"})
    assert response.status_code == 200 and response.mimetype == XLSX
    parts = xlsx_parts(response.data)
    sheets = re.findall(r'<sheet name="([^"]+)"', parts["xl/workbook.xml"])
    assert sheets == ["About this file", "Totals", "Lines", "Adjustments", "Days", "Sequence gaps", "Children",
                      "Claims", "Claim totals", "Claim differences", "Checkpoints"]
    assert "₸" in parts["xl/styles.xml"]
    lines = parts["xl/worksheets/sheet3.xml"]
    assert 'ySplit="1"' in lines and 'state="frozen"' in lines
    strings = parts.get("xl/sharedStrings.xml", lines)
    assert "Net amount, ₸" in strings and "amountTiyn" not in strings and "netMeals" not in strings
    assert str(15 * scenario.world.price["lunch"] / 100).rstrip("0").rstrip(".") in lines


@pytest.mark.parametrize(("lang", "sheet", "header"), [
    ("ru", "Строки сверки", "Сумма нетто, ₸"), ("kk", "Салыстыру жолдары", "Таза сома, ₸"),
    (None, "Строки сверки", "Отказы: неизвестный ученик"),  # no Accept-Language: Russian, as everywhere
])
def test_xlsx_names_sheets_and_columns_in_the_readers_language(checked, settings, scenario, lang, sheet,
                                                               header):
    language = {"Accept-Language": lang} if lang else {}
    response = checked.get(f"/api/v1/auditor/reconciliations/export?month={scenario.month}&format=xlsx",
                           headers={**staff(settings, role="operator"), **language})
    parts = xlsx_parts(response.data)
    text = "".join(parts.values())
    assert sheet in re.findall(r'<sheet name="([^"]+)"', parts["xl/workbook.xml"]) and header in text
    csv_file = export(checked, settings, scenario)  # CSV keeps the keys programs read
    assert "netAmountTiyn" in csv_file.data.decode("utf-8-sig")


def test_entries_export_masks_iins_for_suppliers_and_neutralises_formulas(checked, settings, scenario, client,
                                                                          session_factory):
    # A terminal sends a student reference that a spreadsheet would run as a formula.
    terminal_key = TerminalKey("T-formula-1")
    with session_factory() as session:
        terminal_key.register(session, scenario.world.school)
    day = scenario.serving[2]
    served = dt.datetime.combine(day, dt.time(7), dt.UTC)
    client.post("/api/v1/terminal/events", headers=terminal_key.headers(),
                json=batch(meal_event('=HYPERLINK("http://x","y")', 1, served_at=served), sent_at=served))
    w = scenario.world
    auditor = csv_sections(export(checked, settings, scenario, "entries", role="auditor", region=w.region.code).data)
    header, *rows = auditor["entries"]
    entries = [dict(zip(header, r, strict=True)) for r in rows]
    assert header[:4] == ["entryId", "schoolBin", "position", "kind"]
    assert {e["iin"] for e in entries if e["studentId"] == str(w.eligible[0].id)} == {w.eligible[0].iin}
    formula = [e for e in entries if "HYPERLINK" in e["studentRef"]]
    assert formula[0]["studentRef"].startswith("'=") and formula[0]["verdict"] == "not_billable"
    supplier = csv_sections(
        export(checked, settings, scenario, "entries", role="supplier", supplier=w.supplier.bin).data)
    header, *rows = supplier["entries"]
    masked = {dict(zip(header, r, strict=True))["iin"] for r in rows} - {""}
    assert masked and all(re.fullmatch(r"\d{4}\*{6}\d{2}", iin) for iin in masked)
    xlsx = xlsx_parts(export(checked, settings, scenario, "entries", fmt="xlsx").data)
    entries_sheet = xlsx["xl/worksheets/sheet3.xml"]
    assert "'=HYPERLINK" in entries_sheet.replace("&apos;", "'").replace("&quot;", '"')
    assert "<f>" not in entries_sheet


def test_entries_export_as_json(checked, settings, scenario):
    response = export(checked, settings, scenario, "entries", fmt="json")
    body = json.loads(response.data)
    assert body["format"] == "wallet-entries/v1" and body["iin"] == "full"
    assert len(body["entries"]) == 20 and body["entries"][0]["position"] == 1
    assert [e["position"] for e in body["entries"]] == sorted(e["position"] for e in body["entries"])


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
@pytest.mark.parametrize("what", ["reconciliations", "entries"])
def test_a_month_without_data_exports_an_empty_but_valid_file(checked, settings, scenario, fmt, what):
    month = f"{scenario.first - dt.timedelta(days=40):%Y-%m}"
    response = export(checked, settings, scenario, what, fmt=fmt, month=month)
    assert response.status_code == 200
    if fmt == "csv":
        sections = csv_sections(response.data)
        table = "entries" if what == "entries" else "lines"
        assert len(sections[table]) == 1  # the header only
    elif fmt == "json":
        body = json.loads(response.data)
        assert body["month"] == month and body["entries" if what == "entries" else "lines"] == []
    else:
        assert "xl/workbook.xml" in xlsx_parts(response.data)


@pytest.mark.parametrize(
    ("query", "status"),
    [("month=2026-13&format=csv", 422), ("month=MONTH&format=pdf", 422), ("month=MONTH", 422),
     ("month=MONTH&format=csv&region=KZ-00", 404)],
)
def test_bad_export_requests(checked, settings, scenario, query, status):
    for what in ("reconciliations", "entries"):
        response = checked.get(f"/api/v1/auditor/{what}/export?{query.replace('MONTH', scenario.month)}",
                               headers=staff(settings, role="operator"))
        assert response.status_code == status
    assert checked.get(f"/api/v1/auditor/entries/export?month={scenario.month}&format=csv",
                       headers=staff(settings, role="parent")).status_code == 403
