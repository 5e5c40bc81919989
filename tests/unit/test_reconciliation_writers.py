"""Export writers without a database: formula neutralising, CSV/JSON shape, XLSX sheets split at the row limit,
identical bytes for identical documents, months."""

import datetime as dt
import io
import json
import re
import zipfile
from decimal import Decimal

import pytest

from wallet.errors import InvalidInput
from wallet.ledger.totals import day_end_utc
from wallet.months import Month, parse_month, reportable_month
from wallet.reconciliation import writers
from wallet.reconciliation.writers import Column, Document, Table, neutralise, write


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["", "abc", "1-1", "Школа №1", " =1"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text


def document(rows=(), generated=dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)):
    columns = [Column("name"), Column("count", "int"), Column("amountTiyn", "money"), Column("day", "date"),
               Column("ratio", "ratio"), Column("at", "datetime"), Column("ok", "bool")]
    return Document(meta=[("format", "test/v1"), ("generatedAt", generated)],
                    tables=[Table("rows", columns, list(rows)),
                            Table("totals", [Column("count", "int")], [[len(rows)]], single=True)])


ROWS = [["=cmd|' /C calc'!A0", 3, 12345, dt.date(2026, 9, 1), Decimal("0.5000"),
         dt.datetime(2026, 9, 1, 7, tzinfo=dt.UTC), True],
        ["plain", -2, -100, None, None, None, False]]


def test_csv_has_a_bom_sections_and_neutralised_text_but_plain_negative_numbers():
    data = b"".join(write(document(ROWS), "csv"))
    text = data.decode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf") and "\r\n" in text
    assert "table,rows\r\nname,count,amountTiyn,day,ratio,at,ok\r\n" in text
    assert "'=cmd|' /C calc'!A0,3,12345,2026-09-01,0.5000,2026-09-01T07:00:00Z,true" in text
    assert "plain,-2,-100,,,,false" in text


def test_json_is_one_object_with_tables_by_name():
    body = json.loads(b"".join(write(document(ROWS), "json")))
    assert body["format"] == "test/v1" and body["generatedAt"] == "2026-10-01T09:00:00Z"
    assert body["rows"][0] == {"name": "=cmd|' /C calc'!A0", "count": 3, "amountTiyn": 12345, "day": "2026-09-01",
                               "ratio": 0.5, "at": "2026-09-01T07:00:00Z", "ok": True}
    assert body["totals"] == {"count": 2}
    assert json.loads(b"".join(write(document(), "json")))["rows"] == []


def test_xlsx_splits_long_tables_over_sheets_and_is_reproducible(monkeypatch):
    monkeypatch.setattr(writers, "XLSX_MAX_DATA_ROWS", 3)
    rows = [[f"row {n}", n, n * 100, None, None, None, None] for n in range(7)]
    first = b"".join(write(document(rows), "xlsx"))
    second = b"".join(write(document(rows), "xlsx"))
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
        core = archive.read("docProps/core.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["meta", "rows", "rows (2)", "rows (3)", "totals"]
    assert "amountTenge" in sheet and "<v>1</v>" in sheet  # 100 tiyn shown as 1 tenge
    assert "2026-10-01T09:00:00Z" in core


def test_xlsx_neutralises_and_never_writes_formulas():
    data = b"".join(write(document(ROWS), "xlsx"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>" not in sheet and "&apos;=cmd" in sheet.replace("'", "&apos;")


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown export format"):
        write(document(), "pdf")


@pytest.mark.parametrize("value", ["2026-00", "2026-13", "26-01", "2026-1", "1999-12", "2100-01", "", None, 202601])
def test_malformed_months(value):
    with pytest.raises(InvalidInput) as caught:
        parse_month(value)
    assert caught.value.code == "invalid_month"


def test_months_and_their_edges_in_a_zone():
    month = parse_month("2026-12")
    assert (month.first_day, month.last_day, str(month.next())) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31),
                                                                     "2027-01")
    assert month.starts_at("Asia/Almaty") == dt.datetime(2026, 11, 30, 19, tzinfo=dt.UTC)
    assert day_end_utc(dt.date(2026, 12, 31), "Asia/Almaty") == dt.datetime(2026, 12, 31, 19, tzinfo=dt.UTC)
    assert Month.of(dt.date(2024, 2, 29)).last_day == dt.date(2024, 2, 29)
    with pytest.raises(InvalidInput) as caught:
        reportable_month("2026-12", now=dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC))
    assert caught.value.code == "month_in_future"
    assert str(reportable_month("2026-12", now=dt.datetime(2026, 11, 30, 11, tzinfo=dt.UTC))) == "2026-12"


def test_xlsx_sheets_and_columns_take_the_labels_given_and_csv_keeps_its_keys():
    names = {"meta": "О файле", "key": "Параметр", "value": "Значение", "rows": "Строки: [a/b]",
             "amountTiyn": "Сумма, ₸"}

    def labels(key: str) -> str:
        return names.get(key, key)

    data = b"".join(write(document(ROWS), "xlsx", labels=labels))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        text = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith(".xml"))
    # a sheet name may not hold [ ] : * ? / \ (Excel refuses the file): they become spaces
    assert re.findall(r'<sheet name="([^"]+)"', workbook)[:2] == ["О файле", "Строки   a b"]
    assert "Сумма, ₸" in text and "amountTenge" not in text
    assert b"amountTiyn" in b"".join(write(document(ROWS), "csv", labels=labels))
