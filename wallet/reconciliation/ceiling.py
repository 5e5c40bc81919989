"""The ceiling of each line: eligible children x serving days, from the registry and the calendar (each day
of a child with two grounds counted once, for the first ground in the ingest's billing priority)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql import Select

from wallet.ceiling_days import stale_schools
from wallet.db import one_of
from wallet.ground_priority import priority_key
from wallet.models import CalendarDay, CeilingDayTotal, Contract, ContractPrice, Enrollment, StudentEligibility
from wallet.reconciliation.dialect import greatest, least
from wallet.reconciliation.reading import MonthReading

_CALENDAR, _CONTRACTS, _TOTALS = CalendarDay.__table__, Contract.__table__, CeilingDayTotal.__table__


def line_ceilings(reading: MonthReading) -> tuple[dict[tuple[int, int, str, str], int], int]:
    """The ceiling of every line, and their total (in the same statement).

    An open month reads the derived rows (`ceiling_day_totals`) of every school in scope whose rows are
    current, and computes the others' from the registry; a closed month (`from_entries`) computes all."""
    if reading.from_entries:
        parts = [select(_ceiling_statement(reading, reading.in_scope))]
    else:
        stale = stale_schools(reading.session, reading.scope.school_ids)
        parts = [_derived_statement(reading, stale)]
        if stale:
            parts.append(select(_ceiling_statement(reading, lambda c: one_of(reading.session, c, stale))))
    ceiling = union_all(*parts).subquery("line_ceiling")
    total = select(cast(null(), Integer), cast(null(), Integer), cast(null(), String), cast(null(), String),
                   cast(func.coalesce(func.sum(ceiling.c.ceiling), 0), BigInteger))
    rows = reading.session.execute(union_all(select(ceiling), total)).all()
    per_line = {(r.school_id, r.supplier_id, r.category_code, r.meal_type): int(r.ceiling)
                for r in rows if r.school_id is not None}
    return per_line, sum(int(r.ceiling) for r in rows if r.school_id is None)


def _derived_statement(reading: MonthReading, stale: list[int]) -> Any:
    """Lines' ceilings from the derived rows: each serving day's children of a ground, summed over the
    days a contract covers, for the meal types it prices for that ground."""
    t, contract, price = _TOTALS, _CONTRACTS, ContractPrice.__table__
    statement = (
        select(t.c.school_id, contract.c.supplier_id, t.c.category_code, price.c.meal_type,
               cast(func.sum(t.c.children), BigInteger).label("ceiling"))
        .join(contract, and_(contract.c.school_id == t.c.school_id, contract.c.valid_from <= t.c.day,
                             contract.c.valid_to >= t.c.day))
        .join(price, and_(price.c.contract_id == contract.c.id, price.c.category_code == t.c.category_code))
        .where(reading.in_scope(t.c.school_id), t.c.day >= reading.month.first_day,
               t.c.day <= reading.month.last_day)
        .group_by(t.c.school_id, contract.c.supplier_id, t.c.category_code, price.c.meal_type)
    )
    if stale:
        statement = statement.where(t.c.school_id.not_in(stale))
    if reading.scope.supplier_id:
        statement = statement.where(contract.c.supplier_id == reading.scope.supplier_id)
    return statement


def _ceiling_statement(reading: MonthReading, schools: Callable[[Any], ColumnElement[bool]]) -> Any:
    """Child-days per school x contract x ground, by how many eligible spans a child has at the school,
    then per line (the contract's supplier and the ground's priced meal types); `schools` picks them."""
    ranked = _ranked_spans(reading, schools)
    serving = and_(_CALENDAR.c.kind == "serving", _CALENDAR.c.day >= reading.month.first_day,
                   _CALENDAR.c.day <= reading.month.last_day)
    child_days = union_all(_one_span(ranked, serving), _two_spans(ranked, serving),
                           _several_spans(ranked, serving)).subquery("child_days")
    contract, price = _CONTRACTS, ContractPrice.__table__
    per_line = (
        select(child_days.c.school_id, contract.c.supplier_id, child_days.c.category_code, price.c.meal_type,
               cast(func.sum(child_days.c.child_days), BigInteger).label("ceiling"))
        .join(contract, contract.c.id == child_days.c.contract_id)
        .join(price, and_(price.c.contract_id == child_days.c.contract_id,
                          price.c.category_code == child_days.c.category_code))
        .group_by(child_days.c.school_id, contract.c.supplier_id, child_days.c.category_code, price.c.meal_type)
    )
    if reading.scope.supplier_id:
        per_line = per_line.where(contract.c.supplier_id == reading.scope.supplier_id)
    return per_line.cte("ceiling")


def _ranked_spans(reading: MonthReading, schools: Callable[[Any], ColumnElement[bool]]) -> Any:
    """Each child's eligible spans at each school within the month (enrollment x ground), distinct, with
    how many the child has there (`k`)."""
    first, last = reading.month.first_day, reading.month.last_day
    en, se = Enrollment.__table__, StudentEligibility.__table__
    spans = (
        select(
            en.c.school_id, en.c.student_id, se.c.category_code,
            greatest(reading.dialect, en.c.valid_from, se.c.valid_from, literal(first, Date)).label("lo"),
            least(reading.dialect, func.coalesce(en.c.valid_to, literal(last, Date)), se.c.valid_to,
                  literal(last, Date)).label("hi"),
        )
        .join(se, se.c.student_id == en.c.student_id)
        .where(schools(en.c.school_id), en.c.valid_from <= last,
               or_(en.c.valid_to.is_(None), en.c.valid_to >= first), se.c.valid_from <= last,
               se.c.valid_to >= first)
        .subquery("spans")
    )
    distinct_spans = select(spans).where(spans.c.lo <= spans.c.hi).distinct().subquery("distinct_spans")
    return (
        select(distinct_spans,
               func.count().over(partition_by=[distinct_spans.c.school_id, distinct_spans.c.student_id])
               .label("k"))
        .cte("ranked")
    )


def _one_span(ranked: Any, serving: ColumnElement[bool]) -> Select[Any]:
    """Most children have one eligible span at their school: count them by span, then days by span."""
    cal, contract = _CALENDAR, _CONTRACTS
    by_span = (
        select(ranked.c.school_id, ranked.c.category_code, ranked.c.lo, ranked.c.hi,
               func.count().label("children"))
        .where(ranked.c.k == 1)
        .group_by(ranked.c.school_id, ranked.c.category_code, ranked.c.lo, ranked.c.hi)
        .subquery("by_span")
    )
    return (
        select(by_span.c.school_id, contract.c.id.label("contract_id"), by_span.c.category_code,
               cast(func.sum(by_span.c.children), BigInteger).label("child_days"))
        .join(contract, and_(contract.c.school_id == by_span.c.school_id))
        .join(cal, and_(cal.c.school_id == by_span.c.school_id, serving, cal.c.day >= by_span.c.lo,
                        cal.c.day <= by_span.c.hi, cal.c.day >= contract.c.valid_from,
                        cal.c.day <= contract.c.valid_to))
        .group_by(by_span.c.school_id, contract.c.id, by_span.c.category_code)
    )


def _two_spans(ranked: Any, serving: ColumnElement[bool]) -> Select[Any]:
    """Children with two spans (two grounds, or two enrollments): counted by pair of spans; each day goes to
    the first ground in the billing priority, as the ingest bills them."""
    cal, contract = _CALENDAR, _CONTRACTS
    a, b = ranked.alias("a"), ranked.alias("b")
    pairs = (
        select(a.c.school_id, a.c.category_code.label("cat_a"), a.c.lo.label("lo_a"), a.c.hi.label("hi_a"),
               b.c.category_code.label("cat_b"), b.c.lo.label("lo_b"), b.c.hi.label("hi_b"),
               func.count().label("children"))
        .join(b, and_(b.c.school_id == a.c.school_id, b.c.student_id == a.c.student_id,
                      tuple_(a.c.category_code, a.c.lo, a.c.hi) < tuple_(b.c.category_code, b.c.lo, b.c.hi)))
        .where(a.c.k == 2, b.c.k == 2)  # the same child: b has two spans too (fewer rows to join)
        .group_by(a.c.school_id, a.c.category_code, a.c.lo, a.c.hi, b.c.category_code, b.c.lo, b.c.hi)
        .subquery("pairs")
    )
    in_a = and_(cal.c.day >= pairs.c.lo_a, cal.c.day <= pairs.c.hi_a)
    in_b = and_(cal.c.day >= pairs.c.lo_b, cal.c.day <= pairs.c.hi_b)
    pair_category = case(
        (and_(in_a, in_b), case((priority_key(pairs.c.cat_a) <= priority_key(pairs.c.cat_b), pairs.c.cat_a),
                                else_=pairs.c.cat_b)),
        (in_a, pairs.c.cat_a), else_=pairs.c.cat_b,
    )
    return (
        select(pairs.c.school_id, contract.c.id, pair_category, cast(func.sum(pairs.c.children), BigInteger))
        .join(cal, and_(cal.c.school_id == pairs.c.school_id, serving, or_(in_a, in_b)))
        .join(contract, and_(contract.c.school_id == pairs.c.school_id, contract.c.valid_from <= cal.c.day,
                             contract.c.valid_to >= cal.c.day))
        .group_by(pairs.c.school_id, contract.c.id, pair_category)
    )


def _several_spans(ranked: Any, serving: ColumnElement[bool]) -> Select[Any]:
    """Three spans or more (rare): day by day and child by child."""
    cal, contract = _CALENDAR, _CONTRACTS
    per_day = (
        select(ranked.c.school_id, ranked.c.student_id, cal.c.day,
               func.min(priority_key(ranked.c.category_code)).label("key"))
        .join(cal, and_(cal.c.school_id == ranked.c.school_id, serving, cal.c.day >= ranked.c.lo,
                        cal.c.day <= ranked.c.hi))
        .where(ranked.c.k > 2)
        .group_by(ranked.c.school_id, ranked.c.student_id, cal.c.day)
        .subquery("per_child_day")
    )
    category = func.substr(per_day.c.key, 3)
    return (
        select(per_day.c.school_id, contract.c.id, category, cast(func.count(), BigInteger))
        .join(contract, and_(contract.c.school_id == per_day.c.school_id,
                             contract.c.valid_from <= per_day.c.day, contract.c.valid_to >= per_day.c.day))
        .group_by(per_day.c.school_id, contract.c.id, category)
    )
