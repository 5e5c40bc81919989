"""Streaming writers for exports: CSV (UTF-8 with a byte-order mark), JSON and XLSX.

An export is a `Document`: metadata (scope, month, generation time, the hash naming the checkpoints it was
computed from) and tables whose rows come from iterators, so a table of millions of rows is written without
holding it: CSV and JSON yield bytes as rows arrive; XLSX goes through xlsxwriter's constant_memory mode
(rows flushed to a temporary file as they are written) and the finished file is then read out in chunks.

Every text cell that a spreadsheet could take for a formula (starting with = + - @, a tab or a carriage
return) is neutralised with a leading apostrophe in CSV and XLSX. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
XLSX_MAX_DATA_ROWS = 1_048_575  # a sheet holds 1,048,576 rows, one of them the header
KINDS = ("text", "int", "money", "date", "datetime", "bool", "ratio")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(CONTENT_TYPES)


@dataclass(frozen=True)
class Column:
    key: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Table:
    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    single: bool = False  # one row, written as an object in JSON (e.g. totals)


@dataclass
class Document:
    meta: list[tuple[str, Any]]
    tables: list[Table] = field(default_factory=list)


def neutralise(text: str) -> str:
    """Text that a spreadsheet would read as a formula, made inert with a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write(doc: Document, fmt: str, *, on_row: Callable[[], None] | None = None,
          labels: Callable[[str], str] | None = None) -> Iterator[bytes]:
    """The document as bytes in `fmt` (csv, json or xlsx); `on_row` is called after each table row. `labels`
    (a key -> text for people, in their language) names an XLSX file's sheets and columns; CSV and JSON keep
    the keys, which programs read."""
    if fmt == "csv":
        return write_csv(doc, on_row=on_row)
    if fmt == "json":
        return write_json(doc, on_row=on_row)
    if fmt == "xlsx":
        return write_xlsx(doc, on_row=on_row, labels=labels)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- CSV ------------------------------------------------------------------------------------------------


def _csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "bool" or isinstance(value, bool):
        return "true" if value else "false"
    if kind in ("int", "money"):
        return str(int(value))
    if kind == "ratio":
        return str(value)
    if kind == "datetime" and isinstance(value, dt.datetime):
        return _iso(value)
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(doc: Document, *, on_row: Callable[[], None] | None = None) -> Iterator[bytes]:
    """Sections, each a `table,NAME` row, a header row and data rows, separated by a blank line; the first
    section is `meta` (key,value rows). UTF-8 with a byte-order mark, CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return data

    buffer.write(BOM)
    writer.writerow(["table", "meta"])
    writer.writerow(["key", "value"])
    for key, value in doc.meta:
        writer.writerow([key, _csv_cell(value, "datetime" if isinstance(value, dt.datetime) else "text")])
    for table in doc.tables:
        writer.writerow([])
        writer.writerow(["table", table.name])
        writer.writerow([c.key for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
            if on_row:
                on_row()
            if buffer.tell() >= CHUNK_BYTES:
                yield flush()
    yield flush()


# --- JSON -----------------------------------------------------------------------------------------------


def _json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "ratio":
        return float(value) if isinstance(value, Decimal) else value
    if kind == "datetime" and isinstance(value, dt.datetime):
        return _iso(value)
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    if kind in ("int", "money"):
        return int(value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_json(doc: Document, *, on_row: Callable[[], None] | None = None) -> Iterator[bytes]:
    """One object: the metadata keys, then each table by name (an array of row objects; one object for a
    single-row table). Written row by row."""
    parts: list[str] = []
    size = 0

    def emit(text: str) -> Iterator[bytes]:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            data = "".join(parts).encode("utf-8")
            parts.clear()
            size = 0
            yield data

    meta = ",".join(f"{_dumps(k)}:{_dumps(_json_value(v, 'datetime'))}" for k, v in doc.meta)
    yield from emit("{" + meta)
    for table in doc.tables:
        keys = [_dumps(c.key) for c in table.columns]
        yield from emit(f",{_dumps(table.name)}:" + ("" if table.single else "["))
        first = True
        for row in table.rows:
            body = ",".join(f"{k}:{_dumps(_json_value(v, c.kind))}"
                            for k, v, c in zip(keys, row, table.columns, strict=True))
            yield from emit(("" if first else ",") + "{" + body + "}")
            first = False
            if on_row:
                on_row()
        if table.single and first:
            yield from emit("null")
        yield from emit("" if table.single else "]")
    yield from emit("}\n")
    yield "".join(parts).encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------------------

TENGE_FORMAT = '#,##0.00 "₸"'


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_names(name: str, part: int) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", name)[:25].strip()
    return base if part == 1 else f"{base} ({part})"


def _keys(key: str) -> str:
    """Without labels, sheets, items and columns are named by their keys."""
    return key


DATE_FORMAT = "@dateFormat"  # the labels' key for a date cell's number format (api/console/export_labels.py)


def _date_format(label: Callable[[str], str]) -> str:
    given = label(DATE_FORMAT)
    return "yyyy-mm-dd" if given == DATE_FORMAT else given


def write_xlsx(doc: Document, *, on_row: Callable[[], None] | None = None,
               tmpdir: str | None = None, labels: Callable[[str], str] | None = None) -> Iterator[bytes]:
    """One sheet per table (a table longer than a sheet continues on `name (2)`, ...), the header row frozen,
    amounts in tenge with a tenge number format, dates as dates; the metadata on the first sheet. Sheets and
    columns are named by `labels` when given (the reader's language), else by the keys."""
    import xlsxwriter

    label = labels or _keys

    with tempfile.TemporaryDirectory(prefix="wallet-export-", dir=tmpdir) as folder:
        path = os.path.join(folder, "export.xlsx")
        workbook = xlsxwriter.Workbook(path, {
            "constant_memory": True, "tmpdir": folder, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False,
        })
        generated = dict(doc.meta).get("generatedAt")
        if isinstance(generated, dt.datetime):
            workbook.set_properties({"title": str(dict(doc.meta).get("format", "export")),
                                     "created": generated.astimezone(dt.UTC).replace(tzinfo=None)})
        formats = {
            "header": workbook.add_format({"bold": True}),
            "money": workbook.add_format({"num_format": TENGE_FORMAT}),
            "int": workbook.add_format({"num_format": "0"}),
            # a date as the reader's language writes it ("05.12.2026"), when the labels know the language
            "date": workbook.add_format({"num_format": _date_format(label)}),
            "ratio": workbook.add_format({"num_format": "0.00%"}),
        }
        meta = workbook.add_worksheet(_sheet_names(label("meta"), 1))
        meta.set_column(0, 0, 28 if labels else 22)
        meta.set_column(1, 1, 70)
        meta.freeze_panes(1, 0)
        meta.write_string(0, 0, label("key"), formats["header"])
        meta.write_string(0, 1, label("value"), formats["header"])
        for n, (key, value) in enumerate(doc.meta, start=1):
            meta.write_string(n, 0, label(key))
            meta.write_string(n, 1, _csv_cell(value, "datetime" if isinstance(value, dt.datetime) else "text"))
        for table in doc.tables:
            _xlsx_table(workbook, table, formats, on_row, labels)
        workbook.close()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk


def _xlsx_table(workbook: Any, table: Table, formats: dict[str, Any], on_row: Callable[[], None] | None,
                labels: Callable[[str], str] | None = None) -> None:
    headers = [labels(c.key) if labels else _xlsx_header(c) for c in table.columns]
    name = labels(table.name) if labels else table.name
    part, row_number, sheet = 1, 0, None

    def new_sheet() -> Any:
        created = workbook.add_worksheet(_sheet_names(name, part))
        for n, header in enumerate(headers):
            created.set_column(n, n, max(12, min(40, len(header) + 2)))
            created.write_string(0, n, header, formats["header"])
        created.freeze_panes(1, 0)
        return created

    sheet = new_sheet()
    for row in table.rows:
        if row_number == XLSX_MAX_DATA_ROWS:
            part, row_number = part + 1, 0
            sheet = new_sheet()
        row_number += 1
        for n, (value, column) in enumerate(zip(row, table.columns, strict=True)):
            _xlsx_cell(sheet, row_number, n, value, column.kind, formats)
        if on_row:
            on_row()


def _xlsx_header(column: Column) -> str:
    return column.key.replace("Tiyn", "Tenge") if column.kind == "money" else column.key


def _xlsx_cell(sheet: Any, row: int, col: int, value: Any, kind: str, formats: dict[str, Any]) -> None:
    if value is None:
        return
    if kind == "bool" or isinstance(value, bool):
        sheet.write_boolean(row, col, bool(value))
    elif kind == "money":
        sheet.write_number(row, col, int(value) / 100, formats["money"])
    elif kind == "int":
        sheet.write_number(row, col, int(value), formats["int"])
    elif kind == "ratio":
        sheet.write_number(row, col, float(value), formats["ratio"])
    elif kind == "date" and isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), formats["date"])
    elif kind == "datetime" and isinstance(value, dt.datetime):
        sheet.write_string(row, col, _iso(value))
    else:
        sheet.write_string(row, col, neutralise(str(value)))


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
