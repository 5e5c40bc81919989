"""The supplier payment registry of a closed month: what each supplier is due, per contract and school.

Only a month closed for every school of the scope is paid: its figures are fixed by the close checkpoints,
so the registry is the same whenever it is made. The amount due on a line (supplier x contract x school x
category x meal type) is the month's net billable amount (meals minus voids, at the price on each entry,
computed by the database) plus the month's adjustments (entries about earlier closed months that arrived
in this month, counted exactly as the reconciliation counts them). The registry's total is therefore the
reconciliation's payable amount to the tiyn. The money of billable meals under findings (wallet.evidence.holds)
is shown as held (open findings) or withheld (upheld) and is not paid: `paid = due - held - withheld`; the
findings and rulings counted are named in the document (`holds`), so it is reproducible to the byte.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, or_, select
from sqlalchemy.orm import Session

from wallet.db import one_of
from wallet.errors import Conflict
from wallet.evidence.holds import HoldMark, current_mark, held_by_key
from wallet.messages import T_
from wallet.models import Contract, LedgerEntry, Supplier
from wallet.months import Month
from wallet.reconciliation.adjustments import month_adjustments
from wallet.reconciliation.exports import CHECKPOINT_COLUMNS
from wallet.reconciliation.heads import AsOf, frozen_sizes, load_as_of
from wallet.reconciliation.scope import Scope
from wallet.reconciliation.writers import Column, Document, Table
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.registry import WitnessEvidence, registry_witnessing

REGISTRY_FORMAT = "wallet-payment-registry/v1"
NO_HOLDS = HoldMark(0, 0)


@dataclass
class RegistryLine:
    supplier_id: int | None
    contract_id: int | None
    school_id: int
    category: str | None
    meal_type: str
    meals: int = 0  # net billable meals of the month
    amount: int = 0  # their net amount, tiyn
    adjustment_meals: int = 0
    adjustment_voids: int = 0
    adjustment_amount: int = 0
    held_meals: int = 0
    held: int = 0  # tiyn of billable meals under open findings
    withheld_meals: int = 0
    withheld: int = 0  # tiyn of billable meals under upheld findings

    @property
    def due(self) -> int:
        return self.amount + self.adjustment_amount

    @property
    def paid(self) -> int:
        return self.due - self.held - self.withheld


@dataclass
class PaymentRegistry:
    scope: Scope
    as_of: AsOf
    generated_at: dt.datetime
    lines: list[RegistryLine]
    suppliers: dict[int, tuple[str, str]]  # id -> (bin, name)
    contracts: dict[int, tuple[str, dt.date, dt.date]]  # id -> (number, valid from, valid to)
    schools: dict[int, tuple[str, str]]
    witnessed: WitnessEvidence | None = None  # the cosigned national head, when witnesses are configured
    holds: HoldMark = NO_HOLDS

    @property
    def month(self) -> Month:
        return self.as_of.month

    @property
    def due(self) -> int:
        return sum(ln.due for ln in self.lines)

    @property
    def paid(self) -> int:
        return sum(ln.paid for ln in self.lines)

    @property
    def held(self) -> int:
        return sum(ln.held for ln in self.lines)


def payment_registry(session: Session, scope: Scope, month: Month, *,
                     now: dt.datetime | None = None, witnesses: WitnessPolicy | None = None,
                     holds: HoldMark | None = None) -> PaymentRegistry:
    """The registry of a closed month for the scope (a supplier: its own lines only); Conflict for a month
    that is not closed for every school of the scope, or, with witnesses configured, whose close checkpoints
    are not yet under a head cosigned by k of them."""
    as_of = load_as_of(session, scope, month)
    if not as_of.closed or as_of.closed_at is None:
        raise Conflict("month_not_closed", T_("%(month)s is not closed for %(label)s: suppliers are paid only for "
                                              "closed months", month=month, label=scope.label))
    witnessed = registry_witnessing(session, witnesses, [s.id for s in scope.schools], month) if witnesses else None
    lines: dict[tuple[Any, ...], RegistryLine] = {}

    def line(supplier_id: int | None, contract_id: int | None, school_id: int, category: str | None,
             meal_type: str) -> RegistryLine:
        key = (supplier_id, contract_id, school_id, category, meal_type)
        if key not in lines:
            lines[key] = RegistryLine(*key)
        return lines[key]

    for r in session.execute(_meals_statement(session, scope, month)):
        found = line(r.supplier_id, r.contract_id, r.school_id, r.category_code, r.meal_type)
        found.meals += int(r.meals or 0)
        found.amount += int(r.amount or 0)
    for a in month_adjustments(session, scope, month, by_contract=True, now=now):
        found = line(a.supplier_id, a.contract_id, a.school_id, a.category, a.meal_type)
        found.adjustment_meals += a.meals
        found.adjustment_voids += a.voids
        found.adjustment_amount += a.net_amount
    mark = holds or current_mark(session)
    supplier_of = {ln.contract_id: ln.supplier_id for ln in lines.values()}
    for (contract_id, school_id, category, meal_type), held in held_by_key(session, scope.school_ids, str(month),
                                                                            mark).items():
        if contract_id not in supplier_of:
            continue  # another supplier's contract (a supplier's registry)
        found = line(supplier_of[contract_id], contract_id, school_id, category, meal_type)
        found.held_meals, found.held = held.held_meals, held.held
        found.withheld_meals, found.withheld = held.withheld_meals, held.withheld
    kept = [ln for ln in lines.values() if ln.meals or ln.amount or ln.adjustment_meals or ln.adjustment_voids
            or ln.adjustment_amount]
    suppliers = {sid: (sbin, name) for sid, sbin, name in session.execute(
        select(Supplier.id, Supplier.bin, Supplier.name).where(
            Supplier.id.in_({ln.supplier_id for ln in kept if ln.supplier_id})))}
    contracts = {cid: (number, start, end) for cid, number, start, end in session.execute(
        select(Contract.id, Contract.number, Contract.valid_from, Contract.valid_to).where(
            Contract.id.in_({ln.contract_id for ln in kept if ln.contract_id})))}
    schools = {s.id: (s.bin, s.name) for s in scope.schools}

    def order(ln: RegistryLine) -> tuple[Any, ...]:
        return (suppliers.get(ln.supplier_id or 0, ("",))[0], contracts.get(ln.contract_id or 0, ("",))[0],
                schools[ln.school_id][0], ln.category or "", ln.meal_type)

    return PaymentRegistry(scope=scope, as_of=as_of, generated_at=as_of.closed_at, lines=sorted(kept, key=order),
                           suppliers=suppliers, contracts=contracts, schools=schools, witnessed=witnessed,
                           holds=mark)


def _meals_statement(session: Session, scope: Scope, month: Month) -> Any:
    """Net billable meals and amount per contract x school x category x meal type, as of the close."""
    e, contract, frozen = LedgerEntry.__table__, Contract.__table__, frozen_sizes(month).subquery("frozen")
    sign = case((e.c.kind == "meal", 1), else_=-1)
    statement = (
        select(contract.c.supplier_id, e.c.contract_id, e.c.school_id, e.c.category_code, e.c.meal_type,
               cast(func.sum(sign), BigInteger).label("meals"),
               cast(func.sum(sign * e.c.price_tiyn), BigInteger).label("amount"))
        .select_from(e)
        .join(contract, contract.c.id == e.c.contract_id)
        .outerjoin(frozen, frozen.c.school_id == e.c.school_id)
        .where(one_of(session, e.c.school_id, scope.school_ids), e.c.serving_day >= month.first_day,
               e.c.serving_day <= month.last_day, e.c.verdict == "billable",
               or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size))
        .group_by(contract.c.supplier_id, e.c.contract_id, e.c.school_id, e.c.category_code, e.c.meal_type)
    )
    if scope.supplier_id:
        statement = statement.where(contract.c.supplier_id == scope.supplier_id)
    return statement


# --- the document ---------------------------------------------------------------------------------------

MONEY = [Column("meals", "int"), Column("amountTiyn", "money"), Column("adjustmentMeals", "int"),
         Column("adjustmentVoids", "int"), Column("adjustmentAmountTiyn", "money"), Column("dueTiyn", "money"),
         Column("heldMeals", "int"), Column("heldTiyn", "money"), Column("withheldMeals", "int"),
         Column("withheldTiyn", "money"), Column("paidTiyn", "money")]


def _sum(lines: list[RegistryLine]) -> list[int]:
    return [sum(ln.meals for ln in lines), sum(ln.amount for ln in lines), sum(ln.adjustment_meals for ln in lines),
            sum(ln.adjustment_voids for ln in lines), sum(ln.adjustment_amount for ln in lines),
            sum(ln.due for ln in lines), sum(ln.held_meals for ln in lines), sum(ln.held for ln in lines),
            sum(ln.withheld_meals for ln in lines), sum(ln.withheld for ln in lines), sum(ln.paid for ln in lines)]


def registry_document(reg: PaymentRegistry) -> Document:
    """Tables: totals, suppliers, contracts (per supplier x contract x school), lines (by category and meal
    type) and the close checkpoints it was computed from."""
    scope, as_of = reg.scope, reg.as_of
    meta: list[tuple[str, Any]] = [
        ("format", REGISTRY_FORMAT), ("scope", scope.label), ("month", str(as_of.month)), ("closed", as_of.closed),
        ("closedAt", as_of.closed_at), ("generatedAt", reg.generated_at), ("checkpointsDigest", as_of.digest),
        ("schools", len(scope.schools)), ("amounts", "tiyn (1 tenge = 100 tiyn); XLSX shows tenge"),
        ("due", "net billable amount of the month's meals plus the month's adjustments for earlier closed months"),
        ("holds", reg.holds.label), ("paid", "due less the money held (open findings) and withheld (upheld)"),
    ]

    def supplier(sid: int | None, n: int) -> Any:
        return reg.suppliers[sid][n] if sid in reg.suppliers else None

    def contract(cid: int | None, n: int) -> Any:
        return reg.contracts[cid][n] if cid in reg.contracts else None

    by_supplier: dict[int | None, list[RegistryLine]] = defaultdict(list)
    by_contract: dict[tuple[int | None, int | None, int], list[RegistryLine]] = defaultdict(list)
    for ln in reg.lines:
        by_supplier[ln.supplier_id].append(ln)
        by_contract[(ln.supplier_id, ln.contract_id, ln.school_id)].append(ln)
    totals = Table("totals", MONEY, [_sum(reg.lines)], single=True)
    suppliers = Table("suppliers", [Column("supplierBin"), Column("supplierName"), *MONEY],
                      [[supplier(sid, 0), supplier(sid, 1), *_sum(group)] for sid, group in by_supplier.items()])
    contracts = Table("contracts", [Column("supplierBin"), Column("contractNumber"), Column("validFrom", "date"),
                                    Column("validTo", "date"), Column("schoolBin"), Column("schoolName"), *MONEY],
                      [[supplier(sid, 0), contract(cid, 0), contract(cid, 1), contract(cid, 2),
                        reg.schools[school][0], reg.schools[school][1], *_sum(group)]
                       for (sid, cid, school), group in by_contract.items()])
    lines = Table("lines", [Column("supplierBin"), Column("contractNumber"), Column("schoolBin"),
                            Column("category"), Column("mealType"), *MONEY],
                  [[supplier(ln.supplier_id, 0), contract(ln.contract_id, 0), reg.schools[ln.school_id][0],
                    ln.category, ln.meal_type, *_sum([ln])] for ln in reg.lines])
    checkpoints = Table("checkpoints", CHECKPOINT_COLUMNS,
                        [[h.as_row()[c.key] for c in CHECKPOINT_COLUMNS] for h in as_of.heads])
    tables = [totals, suppliers, contracts, lines, checkpoints]
    if reg.witnessed is not None:
        meta.extend(reg.witnessed.meta())
        tables.append(Table("cosignatures", [Column("witness"), Column("keyId"), Column("timestamp", "int"),
                                             Column("line")], [list(c) for c in reg.witnessed.cosignatures]))
    return Document(meta=meta, tables=tables)


def registry_filename(reg: PaymentRegistry, fmt: str) -> str:
    stamp = reg.generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"payment-registry-{reg.scope.slug}-{reg.month}-{stamp}-{reg.as_of.digest[:16]}.{fmt}"


