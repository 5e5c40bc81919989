"""`suppliers`: one row per catering supplier, keyed by BIN."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from wallet.importing.base import Counts, Kind, bulk_insert, bulk_update, find_duplicates, rows_in
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import Supplier


@dataclass(frozen=True)
class SupplierRecord:
    line: int
    bin: str
    name: str


@dataclass
class SupplierPlan:
    records: list[SupplierRecord]
    stored: dict[str, tuple[int, str]]  # bin -> (id, name)


class Suppliers(Kind[SupplierRecord, SupplierPlan]):
    name = "suppliers"
    required = ("bin", "name")

    def parse(self, line: int, cells: Cells) -> SupplierRecord | None:
        bin_, name = cells.bin("bin"), cells.text("name", 300)
        return None if cells.errors else SupplierRecord(line, bin_, name)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[SupplierRecord], errors: list[RowError]) -> SupplierPlan:
        errors += find_duplicates(records, lambda r: r.bin, lambda r: r.line, "bin", T_("BIN"))
        stored = {
            bin_: (id_, name)
            for bin_, id_, name in rows_in(
                session,
                (Supplier.bin, Supplier.id, Supplier.name),
                Supplier.bin,
                (r.bin for r in records),
            )
        }
        return SupplierPlan(records, stored)

    def write(self, session: Session, plan: SupplierPlan) -> Counts:
        counts = Counts()
        inserts, updates = [], []
        for r in plan.records:
            stored = plan.stored.get(r.bin)
            if stored is None:
                inserts.append({"bin": r.bin, "name": r.name})
            elif stored[1] != r.name:
                updates.append({"id": stored[0], "name": r.name})
            counts.count(new=stored is None, changed=stored is not None and stored[1] != r.name)
        bulk_insert(session, Supplier, inserts)
        bulk_update(session, Supplier, updates)
        return counts
