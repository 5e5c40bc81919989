"""The suppliers' latest claims for the month and their comparison with the ledger: per school x day x meal
type where they differ, and per supplier and school (parts of the main statement, over g2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, and_, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from wallet.db import one_of
from wallet.models import Contract, SupplierClaim, SupplierClaimLine
from wallet.months import Month
from wallet.reconciliation.parts import PartRow, part
from wallet.reconciliation.reading import MonthReading
from wallet.reconciliation.results import ClaimComparison, ClaimInfo
from wallet.reconciliation.scope import Scope


def latest_claims(session: Session, scope: Scope, month: Month) -> list[ClaimInfo]:
    """The latest version of each supplier's claim for the month, of the suppliers the scope covers."""
    latest = (
        select(SupplierClaim.supplier_id, func.max(SupplierClaim.version).label("version"))
        .where(SupplierClaim.month == str(month))
        .group_by(SupplierClaim.supplier_id)
        .subquery()
    )
    statement = (
        select(SupplierClaim)
        .join(latest, and_(latest.c.supplier_id == SupplierClaim.supplier_id,
                           latest.c.version == SupplierClaim.version))
        .where(SupplierClaim.month == str(month))
    )
    if scope.supplier_id:
        statement = statement.where(SupplierClaim.supplier_id == scope.supplier_id)
    else:
        # Only suppliers holding a contract at a school of the scope.
        statement = statement.where(SupplierClaim.supplier_id.in_(
            select(Contract.supplier_id).where(one_of(session, Contract.school_id, scope.school_ids))))
    return [ClaimInfo(c.id, c.supplier_id, c.version, c.submitted_at, c.file_sha256)
            for c in session.scalars(statement)]


def claim_parts(reading: MonthReading, g2: Any, claims: list[ClaimInfo]) -> list[Select[Any]]:
    """The claims' lines against the ledger's net meals and amounts per school x day x meal type: where they
    differ, and summed per supplier and school and per supplier."""
    lines = SupplierClaimLine.__table__
    claim = SupplierClaim.__table__
    claimed_by = [c.supplier_id for c in claims]
    zero = literal(0, BigInteger)
    ledger = (
        select(g2.c.school_id, g2.c.supplier_id, g2.c.day, g2.c.meal_type,
               cast(g2.c.meals - g2.c.voids, BigInteger).label("ledger_meals"),
               cast(g2.c.amount - g2.c.void_amount, BigInteger).label("ledger_amount"),
               zero.label("claimed_meals"), zero.label("claimed_amount"))
        .where(g2.c.supplier_id.in_(claimed_by))
    )
    claimed = (
        select(lines.c.school_id, claim.c.supplier_id, lines.c.serving_day, lines.c.meal_type,
               zero, zero, cast(lines.c.meals, BigInteger), cast(lines.c.amount_tiyn, BigInteger))
        .join(claim, claim.c.id == lines.c.claim_id)
        .where(lines.c.claim_id.in_([c.claim_id for c in claims]), reading.in_scope(lines.c.school_id))
    )
    both = union_all(ledger, claimed).subquery("both_sides")
    cmp = (
        select(both.c.school_id, both.c.supplier_id, both.c.day, both.c.meal_type,
               cast(func.sum(both.c.ledger_meals), BigInteger).label("meals"),
               cast(func.sum(both.c.ledger_amount), BigInteger).label("amount"),
               cast(func.sum(both.c.claimed_meals), BigInteger).label("claimed_meals"),
               cast(func.sum(both.c.claimed_amount), BigInteger).label("claimed_amount"))
        .group_by(both.c.school_id, both.c.supplier_id, both.c.day, both.c.meal_type)
        .cte("claim_cmp")
    )
    numbers = ("meals", "amount", "claimed_meals", "claimed_amount")
    sums = {n: cast(func.sum(cmp.c[n]), BigInteger) for n in numbers}
    return [
        part("claim_diff", {"school_id": cmp.c.school_id, "supplier_id": cmp.c.supplier_id,
                            "day": cmp.c.day, "meal_type": cmp.c.meal_type},
             {n: cmp.c[n] for n in numbers})
        .select_from(cmp)
        .where(or_(cmp.c.meals != cmp.c.claimed_meals, cmp.c.amount != cmp.c.claimed_amount)),
        part("claim_school", {"school_id": cmp.c.school_id, "supplier_id": cmp.c.supplier_id}, sums)
        .select_from(cmp).group_by(cmp.c.school_id, cmp.c.supplier_id),
        part("claim_supplier", {"supplier_id": cmp.c.supplier_id}, sums)
        .select_from(cmp).group_by(cmp.c.supplier_id),
    ]


def comparison(r: PartRow, *, with_school: bool) -> ClaimComparison:
    return ClaimComparison(
        supplier_id=r.supplier_id, school_id=r.school_id if with_school else None, day=r.day,
        meal_type=r.meal_type, claimed_meals=int(r.claimed_meals or 0), ledger_meals=int(r.meals or 0),
        claimed_amount=int(r.claimed_amount or 0), ledger_amount=int(r.amount or 0),
    )
