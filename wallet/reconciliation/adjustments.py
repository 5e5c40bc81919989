"""Adjustments: entries about a closed month that arrived, in this month, after that month was closed (late
meals refused `period_closed`, and voids), found through a small partial index."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, and_, cast, exists, func, null, or_, select
from sqlalchemy.orm import Session

from wallet.models import Checkpoint, ClosedPeriod, ContractPrice, LedgerEntry, PeriodCloseCheckpoint, School
from wallet.months import Month
from wallet.reconciliation.dialect import sum_where
from wallet.reconciliation.reading import FAR, MonthReading, open_reading, supplier_of
from wallet.reconciliation.results import Adjustment
from wallet.reconciliation.scope import Scope

_ENTRIES = LedgerEntry.__table__
_SCHOOLS = School.__table__


def adjustments_of(reading: MonthReading, *, by_contract: bool = False) -> list[Adjustment]:
    """`by_contract`: one row per contract too (a meal refused for its closed month belongs to the
    contract in force at the school that day, a void to its meal's contract)."""
    e, s = _ENTRIES, _SCHOOLS
    this_frozen = reading.frozen()
    closed = ClosedPeriod.__table__
    pcc, ck = PeriodCloseCheckpoint.__table__, Checkpoint.__table__.alias("close_ck")
    received_here = or_(*(and_(s.c.timezone == zone, e.c.received_at >= reading.month.starts_at(zone),
                               e.c.received_at < reading.month.ends_at(zone)) for zone in reading.zones))
    after_close = or_(e.c.position > ck.c.tree_size,
                      and_(ck.c.tree_size.is_(None), e.c.reasons == "period_closed"))
    earlier = _ENTRIES.alias("earlier")
    void = _ENTRIES.alias("void")
    voided = exists().where(void.c.refers_to == e.c.id,
                            void.c.position <= func.coalesce(this_frozen.c.tree_size, FAR))
    first_of_slot = ~exists().where(
        earlier.c.student_id == e.c.student_id, earlier.c.serving_day == e.c.serving_day,
        earlier.c.meal_type == e.c.meal_type, earlier.c.kind == "meal", earlier.c.reasons == "period_closed",
        earlier.c.id < e.c.id,
    )
    late_meal = and_(e.c.kind == "meal", e.c.reasons == "period_closed", e.c.student_id.is_not(None),
                     first_of_slot, ~voided)
    late_void = and_(e.c.kind == "void", e.c.verdict == "billable")
    billed, covering, supplier = supplier_of(e)
    price = ContractPrice.__table__
    contract = func.coalesce(e.c.contract_id, covering.id) if by_contract else null()
    statement = (
        select(
            e.c.school_id, supplier.label("supplier_id"), e.c.category_code, e.c.meal_type,
            e.c.billing_month, cast(contract, Integer).label("contract_id"),
            sum_where(late_meal).label("meals"),
            sum_where(late_meal, func.coalesce(price.c.price_tiyn, 0)).label("meal_amount"),
            sum_where(late_void).label("voids"),
            sum_where(late_void, e.c.price_tiyn).label("void_amount"),
        )
        .select_from(e)
        .join(s, s.c.id == e.c.school_id)
        .join(closed, and_(closed.c.region_id == s.c.region_id, closed.c.month == e.c.billing_month))
        .outerjoin(pcc, and_(pcc.c.closed_period_id == closed.c.id, pcc.c.school_id == e.c.school_id))
        .outerjoin(ck, ck.c.id == pcc.c.checkpoint_id)
        .outerjoin(this_frozen, this_frozen.c.school_id == e.c.school_id)
        .outerjoin(billed, billed.id == e.c.contract_id)
        .outerjoin(covering, and_(e.c.contract_id.is_(None), covering.school_id == e.c.school_id,
                                  covering.valid_from <= e.c.serving_day, covering.valid_to >= e.c.serving_day))
        .outerjoin(price, and_(price.c.contract_id == func.coalesce(e.c.contract_id, covering.id),
                               price.c.meal_type == e.c.meal_type, price.c.category_code == e.c.category_code))
        .where(
            or_(e.c.kind == "void", e.c.reasons == "period_closed"),  # the partial index's predicate
            reading.in_scope(e.c.school_id),
            received_here,
            e.c.billing_month != str(reading.month),
            after_close,
            or_(this_frozen.c.tree_size.is_(None), e.c.position <= this_frozen.c.tree_size),
            or_(late_meal, late_void),
        )
        .group_by(e.c.school_id, supplier, e.c.category_code, e.c.meal_type, e.c.billing_month,
                  *([contract] if by_contract else []))
    )
    if reading.scope.supplier_id:
        statement = statement.where(supplier == reading.scope.supplier_id)
    return [Adjustment(r.school_id, r.supplier_id, r.category_code, r.meal_type, r.billing_month, int(r.meals),
                       int(r.meal_amount), int(r.voids), int(r.void_amount), r.contract_id)
            for r in reading.session.execute(statement)]


def month_adjustments(session: Session, scope: Scope, month: Month, *, by_contract: bool = False,
                      now: dt.datetime | None = None) -> list[Adjustment]:
    """The month's adjustments alone, as the reconciliation counts them (the payment registry adds them to
    the month's meals by contract)."""
    return adjustments_of(open_reading(session, scope, month, now or dt.datetime.now(dt.UTC)), by_contract=by_contract)
