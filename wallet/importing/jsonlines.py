"""Reading an import file of JSON lines: one object per line whose members are the kind's columns, all
strings. The rows come out as a CSV table's do (line numbers from 1, no header), so the kind's own checks
and writes are the same for both formats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wallet.importing.csvfile import BOM, CsvRow, CsvTable, decode
from wallet.importing.errors import ImportFailed, RowError
from wallet.messages import T_

MAX_LINE_BYTES = 4096
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def json_lines(data: bytes, errors: list[RowError], what: str = "file") -> Iterator[tuple[int, Any]]:
    """Each non-blank line's number (from 1) and parsed JSON value; a line too long or not JSON goes to
    `errors` instead. ImportFailed when the data hold nothing at all."""
    if not data.strip() or data.strip() == BOM:
        raise ImportFailed([RowError(1, "", T_("the feed is empty; expected one JSON object per line") if what == "feed"
                                         else T_("the file is empty; expected one JSON object per line"))])
    for number, line in enumerate(decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        if len(line.encode()) > MAX_LINE_BYTES:
            errors.append(RowError(number, "", T_("the line is longer than %(MAX_LINE_BYTES)s bytes",
                                                        MAX_LINE_BYTES=MAX_LINE_BYTES)))
            continue
        try:
            yield number, json.loads(line)
        except ValueError:
            errors.append(RowError(number, "", T_("not a JSON object")))


def read_jsonl(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
    known = set(required) | set(optional)
    rows: list[CsvRow] = []
    errors: list[RowError] = []
    for number, item in json_lines(Path(path).read_bytes(), errors):
        if not isinstance(item, dict):
            errors.append(RowError(number, "", T_("must be a JSON object")))
            continue
        found = [RowError(number, str(k), T_("unknown member")) for k in sorted(set(item) - known, key=str)]
        found += [RowError(number, k, T_("must be a string")) for k in sorted(known & set(item))
                  if not isinstance(item[k], str)]
        found += [RowError(number, k, T_("is required")) for k in required if k not in item]
        if found:
            errors += found
            continue
        rows.append(CsvRow(number, {k: item.get(k, "") for k in (*required, *optional)}))
    return CsvTable((*required, *optional), rows, errors)
