"""`contracts`: one row per price line (contract number + meal type + category).

The rows of one contract must agree on school, supplier and period; two contracts of one school may not
overlap in time for the same meal type, counting both the file and what is already stored (a stored
contract that the file changes is judged by its new values).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wallet.importing.base import (
    Counts,
    Kind,
    bulk_insert,
    bulk_insert_returning,
    bulk_update,
    category_codes,
    describe_period,
    find_duplicates,
    ids_by_bin,
    rows_in,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import MEAL_TYPES, Contract, ContractPrice, School, Supplier

HEADER_COLUMNS = ("school_bin", "supplier_bin", "valid_from", "valid_to")


@dataclass(frozen=True)
class PriceRecord:
    line: int
    number: str
    school_bin: str
    supplier_bin: str
    valid_from: dt.date
    valid_to: dt.date
    meal_type: str
    category: str
    price_tiyn: int


@dataclass(frozen=True)
class StoredContract:
    id: int
    school_id: int
    supplier_id: int
    valid_from: dt.date
    valid_to: dt.date


@dataclass
class ContractPlan:
    records: list[PriceRecord]
    first_rows: dict[str, PriceRecord]  # number -> its first row: the contract's header
    school_ids: dict[str, int]
    supplier_ids: dict[str, int]
    contracts: dict[str, StoredContract] = field(default_factory=dict)  # number -> stored
    prices: dict[tuple[int, str, str], tuple[int, int]] = field(default_factory=dict)  # -> (id, price_tiyn)


class Contracts(Kind[PriceRecord, ContractPlan]):
    name = "contracts"
    required = (
        "number",
        "school_bin",
        "supplier_bin",
        "valid_from",
        "valid_to",
        "meal_type",
        "category",
        "price_tiyn",
    )

    def parse(self, line: int, cells: Cells) -> PriceRecord | None:
        number = cells.text("number", 64)
        school_bin, supplier_bin = cells.bin("school_bin"), cells.bin("supplier_bin")
        valid_from, valid_to = cells.date("valid_from"), cells.date("valid_to")
        cells.period("valid_from", "valid_to", valid_from, valid_to)
        meal_type = cells.choice("meal_type", MEAL_TYPES)
        category = cells.text("category", 40)
        price = cells.integer("price_tiyn", 1)
        if cells.errors:
            return None
        return PriceRecord(
            line,
            number,
            school_bin,
            supplier_bin,
            valid_from,
            valid_to,
            meal_type,
            category,
            price,  # type: ignore[arg-type]
        )

    def check(self, session: Session, records: list[PriceRecord], errors: list[RowError]) -> ContractPlan:
        errors += find_duplicates(
            records,
            lambda r: (r.number, r.meal_type, r.category),
            lambda r: r.line,
            "category",
            T_("this contract number, meal type and category"),
        )
        first_rows: dict[str, PriceRecord] = {}
        for r in records:
            first = first_rows.setdefault(r.number, r)
            for column in HEADER_COLUMNS:
                mine, theirs = getattr(r, column), getattr(first, column)
                if mine != theirs:
                    errors.append(
                        RowError(
                            r.line,
                            column,
                            T_("contract %(number)s has %(column)s %(value)s on line %(first)s", number=r.number,
                               column=column,                                value=_show(theirs), first=first.line),
                        )
                    )

        categories = category_codes(session)
        school_ids = ids_by_bin(session, School, (r.school_bin for r in records))
        supplier_ids = ids_by_bin(session, Supplier, (r.supplier_bin for r in records))
        for r in records:
            if r.category not in categories:
                errors.append(
                    RowError(
                        r.line,
                        "category",
                        T_("unknown eligibility category %(category)s; known: %(known)s", category=repr(r.category),
                           known=", ".join(sorted(categories))),
                    )
                )
            if r.school_bin not in school_ids:
                errors.append(RowError(r.line, "school_bin",
                                       T_("no school with BIN %(school_bin)s", school_bin=r.school_bin)))
            if r.supplier_bin not in supplier_ids:
                errors.append(RowError(r.line, "supplier_bin",
                                       T_("no supplier with BIN %(supplier_bin)s", supplier_bin=r.supplier_bin)))

        plan = ContractPlan(records, first_rows, school_ids, supplier_ids)
        columns = (
            Contract.id,
            Contract.number,
            Contract.school_id,
            Contract.supplier_id,
            Contract.valid_from,
            Contract.valid_to,
        )
        stored_rows = list(rows_in(session, columns, Contract.number, first_rows))
        stored_rows += rows_in(session, columns, Contract.school_id, school_ids.values())
        for id_, number, school_id, supplier_id, valid_from, valid_to in stored_rows:
            plan.contracts[number] = StoredContract(id_, school_id, supplier_id, valid_from, valid_to)
        for id_, contract_id, meal_type, category, price in rows_in(
            session,
            (
                ContractPrice.id,
                ContractPrice.contract_id,
                ContractPrice.meal_type,
                ContractPrice.category_code,
                ContractPrice.price_tiyn,
            ),
            ContractPrice.contract_id,
            {c.id for c in plan.contracts.values()},
        ):
            plan.prices[(contract_id, meal_type, category)] = (id_, price)
        errors += _overlaps(plan)
        return plan

    def write(self, session: Session, plan: ContractPlan) -> Counts:
        contract_ids: dict[str, int] = {}
        changed_headers: set[str] = set()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for number, first in plan.first_rows.items():
            header = {
                "school_id": plan.school_ids[first.school_bin],
                "supplier_id": plan.supplier_ids[first.supplier_bin],
                "valid_from": first.valid_from,
                "valid_to": first.valid_to,
            }
            stored = plan.contracts.get(number)
            if stored is None:
                inserts.append({"number": number, **header})
                continue
            contract_ids[number] = stored.id
            if (stored.school_id, stored.supplier_id, stored.valid_from, stored.valid_to) != tuple(header.values()):
                changed_headers.add(number)
                updates.append({"id": stored.id, **header})
        bulk_update(session, Contract, updates)
        contract_ids.update(
            (number, id_)
            for id_, number in bulk_insert_returning(
                session,
                Contract,
                inserts,
                Contract.id,
                Contract.number,
            )
        )

        counts = Counts()
        price_inserts: list[dict[str, Any]] = []
        price_updates: list[dict[str, Any]] = []
        for r in plan.records:
            contract_id = contract_ids[r.number]
            stored_price = plan.prices.get((contract_id, r.meal_type, r.category))
            if stored_price is None:
                price_inserts.append(
                    {
                        "contract_id": contract_id,
                        "meal_type": r.meal_type,
                        "category_code": r.category,
                        "price_tiyn": r.price_tiyn,
                    }
                )
                counts.count(new=True, changed=True)
                continue
            if stored_price[1] != r.price_tiyn:
                price_updates.append({"id": stored_price[0], "price_tiyn": r.price_tiyn})
            counts.count(new=False, changed=stored_price[1] != r.price_tiyn or r.number in changed_headers)
        bulk_insert(session, ContractPrice, price_inserts)
        bulk_update(session, ContractPrice, price_updates)
        return counts


def _show(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _overlaps(plan: ContractPlan) -> list[RowError]:
    """Contracts of one school that overlap for one meal type, judged on the state after the import."""
    final: dict[str, tuple[int, dt.date, dt.date]] = {
        number: (c.school_id, c.valid_from, c.valid_to) for number, c in plan.contracts.items()
    }
    meal_types: dict[str, set[str]] = defaultdict(set)
    number_by_id = {c.id: number for number, c in plan.contracts.items()}
    for contract_id, meal_type, _category in plan.prices:
        meal_types[number_by_id[contract_id]].add(meal_type)
    lines: dict[tuple[str, str], int] = {}
    for number, first in plan.first_rows.items():
        if first.school_bin in plan.school_ids:
            final[number] = (plan.school_ids[first.school_bin], first.valid_from, first.valid_to)
    for r in plan.records:
        meal_types[r.number].add(r.meal_type)
        lines.setdefault((r.number, r.meal_type), r.line)

    groups: dict[tuple[int, str], list[tuple[dt.date, dt.date, str]]] = defaultdict(list)
    for number, (school_id, valid_from, valid_to) in final.items():
        for meal_type in meal_types[number]:
            groups[(school_id, meal_type)].append((valid_from, valid_to, number))

    errors: list[RowError] = []
    for (_school, meal_type), periods in groups.items():
        periods.sort()
        latest: tuple[dt.date, dt.date, str] | None = None  # the period reaching furthest so far
        for period in periods:
            if latest is not None and period[0] <= latest[1]:
                mine, other = (period, latest) if period[2] in plan.first_rows else (latest, period)
                if mine[2] in plan.first_rows:
                    line = lines.get((mine[2], meal_type), plan.first_rows[mine[2]].line)
                    errors.append(
                        RowError(
                            line,
                            "valid_from",
                            T_("contract %(number)s (%(period)s) overlaps contract %(other)s (%(other_period)s) "
                               "of the same school for %(meal_type)s", number=mine[2],
                               period=describe_period(mine[0], mine[1]), other=other[2],
                               other_period=describe_period(other[0], other[1]), meal_type=meal_type),
                        )
                    )
            if latest is None or period[1] > latest[1]:
                latest = period
    return errors
