"""`import_file`: read one registry file, check all of it, then write all of it in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wallet.ceiling_days import refresh as refresh_ceilings
from wallet.db import transaction
from wallet.importing.attendance import Attendance
from wallet.importing.base import Kind
from wallet.importing.calendar_days import Calendar
from wallet.importing.contracts import Contracts
from wallet.importing.csvfile import read_table
from wallet.importing.eligibility import Eligibility
from wallet.importing.errors import ImportFailed, RowError
from wallet.importing.fields import Cells
from wallet.importing.guardians import Guardians
from wallet.importing.jsonlines import JSONL_SUFFIXES, read_jsonl
from wallet.importing.menus import Menus
from wallet.importing.schools import Schools
from wallet.importing.serving_windows import ServingWindows
from wallet.importing.students import Students
from wallet.importing.suppliers import Suppliers
from wallet.messages import T_

# In dependency order: a kind may refer only to kinds before it.
REGISTRY: dict[str, Kind[Any, Any]] = {
    kind.name: kind
    for kind in (
        Schools(),
        Suppliers(),
        Contracts(),
        Students(),
        Eligibility(),
        Guardians(),
        Calendar(),
        Menus(),
        ServingWindows(),
        Attendance(),
    )
}
KINDS: tuple[str, ...] = tuple(REGISTRY)
JSONL_KINDS = ("attendance",)


@dataclass(frozen=True)
class ImportReport:
    kind: str
    created: int
    updated: int
    unchanged: int
    rows: int


def parse_rows(kind: Kind[Any, Any], path: Path) -> tuple[list[Any], list[RowError]]:
    """Read the file and check every row on its own (no database): typed records and the errors found."""
    # JSON lines for the kinds fed by other systems' exports (the class journal's attendance), else CSV.
    jsonl = kind.name in JSONL_KINDS and Path(path).suffix.lower() in JSONL_SUFFIXES
    table = (read_jsonl if jsonl else read_table)(path, kind.required, kind.optional)
    errors = list(table.errors)
    records = []
    for row in table.rows:
        cells = Cells(row.cells)
        record = kind.parse(row.line, cells)
        if record is None:
            errors.extend(RowError(row.line, e.field, e.message) for e in cells.errors)
        else:
            records.append(record)
    return records, errors


def import_file(session_factory: sessionmaker[Session], kind: str, path: Path) -> ImportReport:
    """Import one file of `kind`; raise ImportFailed, having written nothing, if any row is wrong."""
    if kind not in REGISTRY:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    importer = REGISTRY[kind]
    records, errors = parse_rows(importer, path)
    try:
        with transaction(session_factory) as session:
            plan = importer.check(session, records, errors)
            if errors:
                raise ImportFailed(errors)
            counts = importer.write(session, plan)
            # Enrollments, grounds and calendars feed the reconciliation's ceiling: derive its rows for the
            # schools the import changed (their triggers marked them), in the same transaction.
            refresh_ceilings(session)
    except IntegrityError as exc:
        # Checks passed, so someone else changed the same rows meanwhile; the transaction was rolled back.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ImportFailed(
            [
                RowError(
                    1,
                    "",
                    T_("the database refused the import, perhaps changed by another import meanwhile: %(reason)s",
                       reason=reason),
                )
            ]
        ) from exc
    return ImportReport(kind, counts.created, counts.updated, counts.unchanged, len(records))
