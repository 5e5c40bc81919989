"""Reading an import file: UTF-8 (a byte-order mark is ignored), comma-separated, a header row of exact names.

`read_table` returns every data row with the line it starts on (the header is line 1), or raises
ImportFailed for problems that make the rows meaningless: bytes that are not UTF-8, an empty file, a header
that misses required columns, names unknown or repeated ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wallet.importing.errors import ImportFailed, RowError
from wallet.messages import T_

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class CsvRow:
    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class CsvTable:
    columns: tuple[str, ...]
    rows: list[CsvRow]
    errors: list[RowError]  # rows of the wrong width; the rest of the file is still checked


def decode(data: bytes) -> str:
    """The file's text without a leading BOM; ImportFailed names the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailed(
            [
                RowError(
                    line,
                    "",
                    T_("the file is not valid UTF-8 (byte 0x%(byte)s at offset %(offset)s); save it as UTF-8 and "
                       "try again", byte=f"{data[exc.start]:02x}", offset=exc.start),
                )
            ]
        ) from exc


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells); a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFailed([RowError(reader.line_num or start, "",
                                         T_("the file is not valid CSV: %(reason)s", reason=str(exc)))]) from exc
        yield start, record
        start = reader.line_num + 1


def check_header(header: list[str], required: tuple[str, ...], optional: tuple[str, ...]) -> list[RowError]:
    """Missing, unknown and repeated column names, each as an error on line 1."""
    errors: list[RowError] = []
    known = set(required) | set(optional)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(1, name, T_("column appears twice in the header")))
        elif name not in known:
            hint = ";" in name
            errors.append(RowError(1, name or "(empty)", T_("unknown column (the file must be separated by commas, "
                                                            "not semicolons)") if hint else T_("unknown column")))
        seen.add(name)
    errors.extend(RowError(1, name, T_("missing column")) for name in required if name not in seen)
    return errors


def _open_table(text: str, required: tuple[str, ...],
                optional: tuple[str, ...]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    records = _records(text)
    header_record = next(records, None)
    if header_record is None or not any(cell.strip() for cell in header_record[1]):
        raise ImportFailed([RowError(1, "", T_("the file is empty; expected a header row naming the columns"))])
    header = [cell.strip() for cell in header_record[1]]
    header_errors = check_header(header, required, optional)
    if header_errors:
        raise ImportFailed(header_errors)
    return header, records


def _items(header: list[str], records: Iterator[tuple[int, list[str]]]) -> Iterator[CsvRow | RowError]:
    width = len(header)
    for line, record in records:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if len(record) != width:
            yield RowError(line, "", T_("expected %(width)s cells as in the header, found %(found)s", width=width,
                                   found=len(record)))
            continue
        yield CsvRow(line, dict(zip(header, record, strict=True)))


def iter_table(text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[CsvRow | RowError]:
    """The data rows and row errors one at a time, read as they are asked for, so that a caller can stop
    early (a file refused after its first errors is not read to its end). ImportFailed as parse_table's, on
    the first step (the header) or where the text stops being CSV."""
    header, records = _open_table(text, required, optional)
    yield from _items(header, records)


def parse_table(text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
    header, records = _open_table(text, required, optional)
    rows: list[CsvRow] = []
    errors: list[RowError] = []
    for item in _items(header, records):
        if isinstance(item, RowError):
            errors.append(item)
        else:
            rows.append(item)
    return CsvTable(tuple(header), rows, errors)


def read_table(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
    data = Path(path).read_bytes()
    if not data.strip() or data.strip() == BOM:
        raise ImportFailed([RowError(1, "", T_("the file is empty; expected a header row naming the columns"))])
    return parse_table(decode(data), required, optional)
