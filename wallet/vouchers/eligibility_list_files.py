"""A school's monthly eligibility list as it is sent: a CSV file or a JSON document, parsed whole into a
ListDocument (every bad row reported); ListRefused for a list with errors, nothing written.
wallet.vouchers.eligibility_lists checks a parsed list against the registry and applies it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wallet.errors import FieldError, InvalidInput
from wallet.importing.csvfile import decode, parse_table
from wallet.importing.errors import ImportFailed, RowError
from wallet.importing.fields import Cells, parse_iin, parse_text
from wallet.months import Month, parse_month

CSV_COLUMNS = ("school_bin", "month", "iin", "category")
JSON_KEYS = {"iin", "category"}
MAX_ROWS = 20_000  # a large school has a few thousand pupils
MAX_ERRORS = 200  # reported per refusal; the count of the rest is given
DOCUMENT = 0  # RowError.line for problems of the whole list (its month, its school)


class ListRefused(InvalidInput):
    """The list has errors; nothing was written. `errors` are line-numbered (CSV) or indexed (JSON)."""

    def __init__(self, errors: list[RowError], source: str = "csv") -> None:
        self.errors = sorted(errors)
        shown = self.errors[:MAX_ERRORS]
        more = f" (and {len(self.errors) - len(shown)} more)" if len(self.errors) > len(shown) else ""
        first = _describe(shown[0], source) if shown else "no details"
        super().__init__("eligibility_list_invalid",
                         f"the eligibility list was refused, nothing was written: {first}{more}",
                         [FieldError(_where(e, source), _describe(e, source)) for e in shown])


def _where(error: RowError, source: str) -> str:
    if error.line == DOCUMENT:
        return error.column or "body"
    base = f"line {error.line}" if source == "csv" else f"pupils/{error.line - 1}"
    return f"{base}/{error.column}" if error.column else base


def _describe(error: RowError, source: str) -> str:
    return f"{_where(error, source)}: {error.message}"


@dataclass(frozen=True)
class ListRow:
    line: int  # CSV: the file's line (header = 1); JSON: the item's index + 1
    iin: str
    category: str


@dataclass(frozen=True)
class ListDocument:
    school_bin: str
    month: Month
    rows: list[ListRow]  # the rows that parsed; the others are in `errors`
    errors: list[RowError] = field(default_factory=list)  # reported with the database checks' errors


def parse_list_csv(data: bytes) -> ListDocument:
    """A list as CSV: columns school_bin, month, iin, category; every row names the same school and month."""
    try:
        if not data.strip() or data.strip() == b"\xef\xbb\xbf":
            raise ImportFailed([RowError(1, "", "the file is empty; expected a header row "
                                                f"{','.join(CSV_COLUMNS)}")])
        table = parse_table(decode(data), CSV_COLUMNS)
    except ImportFailed as exc:
        raise ListRefused(exc.errors) from exc
    errors = list(table.errors)
    rows: list[ListRow] = []
    school_bin: str | None = None
    month: Month | None = None
    first_line = 0
    for row in table.rows[: MAX_ROWS + 1]:
        cells = Cells(row.cells)
        bin_, iin, category = cells.bin("school_bin"), cells.iin("iin"), cells.text("category", 40)
        month_here = _month_cell(cells)
        errors += [RowError(row.line, e.field, e.message) for e in cells.errors]
        if bin_ is not None and month_here is not None:
            if school_bin is None:
                school_bin, month, first_line = bin_, month_here, row.line
            elif (bin_, month_here) != (school_bin, month):
                errors.append(RowError(row.line, "school_bin" if bin_ != school_bin else "month",
                                       f"every row must name the school and month of line {first_line}"))
        if not cells.errors:
            rows.append(ListRow(row.line, iin, category))  # type: ignore[arg-type]
    if len(table.rows) > MAX_ROWS:
        errors.append(RowError(table.rows[MAX_ROWS].line, "", f"a list holds at most {MAX_ROWS} pupils"))
    if not table.rows:
        errors.append(RowError(1, "", "the list names no pupils"))
    if school_bin is None or month is None or not table.rows or len(table.rows) > MAX_ROWS:
        raise ListRefused(errors)
    return ListDocument(school_bin, month, rows, errors)


def _month_cell(cells: Cells) -> Month | None:
    def parse(value: str) -> Month:
        try:
            return parse_month(value)
        except InvalidInput as exc:
            raise ValueError(f"must be a month as YYYY-MM, got {value!r}") from exc

    return cells.required("month", parse)


def parse_list_json(document: Any, school_bin: str) -> ListDocument:
    """A list as JSON: `{"month": "YYYY-MM", "pupils": [{"iin": ..., "category": ...}, ...]}`."""
    if not isinstance(document, dict) or not isinstance(document.get("pupils"), list):
        raise ListRefused([RowError(DOCUMENT, "pupils", "the list must be an object with a `pupils` array")], "json")
    errors = [RowError(DOCUMENT, key, "unknown member") for key in sorted(set(document) - {"month", "pupils"})]
    month: Month | None = None
    try:
        month = parse_month(document.get("month"))
    except InvalidInput:
        errors.append(RowError(DOCUMENT, "month", "must be a month as YYYY-MM"))
    items = document["pupils"]
    if not items:
        errors.append(RowError(DOCUMENT, "pupils", "the list names no pupils"))
    if len(items) > MAX_ROWS:
        errors.append(RowError(DOCUMENT, "pupils", f"a list holds at most {MAX_ROWS} pupils"))
        items = items[:MAX_ROWS]
    rows: list[ListRow] = []
    for index, item in enumerate(items):
        line = index + 1
        if not isinstance(item, dict):
            errors.append(RowError(line, "", "must be an object with iin and category"))
            continue
        row_errors = [RowError(line, k, "unknown member") for k in sorted(set(item) - JSON_KEYS, key=str)]
        row_errors += [RowError(line, k, "is required") for k in sorted(JSON_KEYS - set(item))]
        values: dict[str, str] = {}
        for key, parse in (("iin", parse_iin), ("category", lambda v: parse_text(v, 40))):
            if key in item:
                try:
                    if not isinstance(item[key], str):
                        raise ValueError("must be a string")
                    values[key] = parse(item[key])
                except ValueError as exc:
                    row_errors.append(RowError(line, key, str(exc)))
        errors += row_errors
        if not row_errors:
            rows.append(ListRow(line, values["iin"], values["category"]))
    if month is None or any(e.line == DOCUMENT for e in errors):
        raise ListRefused(errors, "json")
    return ListDocument(school_bin, month, rows, errors)

