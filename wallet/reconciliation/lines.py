"""The lines of the reconciliation (school x supplier x category x meal type) and its total: the first
grouping of the month (`g`, per school x day x meal type x category x contract x terminal, which the day,
terminal and claim parts also read), its supplier, and the line and total parts of the main statement.

`g` is read from the entries, or for an open month from the derived totals (`ledger_day_totals`), which
hold exactly its first groups."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Interval,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.sql import Select

from wallet.ingest.rules import REASON_CODES
from wallet.ledger.totals import day_end_utc
from wallet.models import LedgerDayTotal, LedgerEntry, School
from wallet.models.base import UTCDateTime
from wallet.models.totals import NO_CONTRACT, NO_TEXT
from wallet.months import Month
from wallet.reconciliation.dialect import group_total, sum_where
from wallet.reconciliation.parts import NUMERIC, PartRow, part
from wallet.reconciliation.reading import MonthReading, supplier_of
from wallet.reconciliation.results import Line, Totals

_ENTRIES = LedgerEntry.__table__
_SCHOOLS = School.__table__
_DAY_TOTALS = LedgerDayTotal.__table__
RAW_LABELS = ("school_id", "day", "meal_type", "category", "contract_id", "terminal_id")


def month_groups(reading: MonthReading) -> Any:
    """`g`: the month's entries per school x day x meal type x category x contract x terminal.

    Like the children's grouping (wallet.reconciliation.children), it first groups the rows by their raw
    values (kind, verdict, reasons, lateness) with a handful of plain aggregates: a parallel hash
    aggregation whose cost per row is a few additions. The conditional sums (meals, amounts, refusals by
    reason, ...) are then taken over those few groups. (Conditional sums straight over the rows cost ~2 us
    a row; one GROUPING SETS pass over both groupings cannot run in parallel. Both were measured slower.)
    For an open month both first groupings are read from the derived totals instead, which hold exactly
    those groups."""
    raw = _raw_from_entries(reading) if reading.from_entries else _raw_from_totals(reading)
    is_meal = raw.c.kind == "meal"
    billable = raw.c.verdict == "billable"
    is_late = raw.c.late == 1
    labels = RAW_LABELS
    # Counts are summed as 32-bit values (a group's count is far below 2^31): PostgreSQL then keeps a
    # plain 64-bit sum per group and aggregate, where a sum of 64-bit values keeps a 128-bit state
    # allocated apart, for each of the ~20 sums of each of the tens of thousands of groups (measured:
    # that aggregation took half the line statement's time). Amounts stay 64-bit.
    count = cast(raw.c.n, Integer)
    return (
        select(
            *(raw.c[n] for n in labels),
            sum_where(is_meal, count).label("attempts"),
            sum_where(and_(is_meal, billable), count).label("meals"),
            sum_where(and_(is_meal, billable), raw.c.amount).label("amount"),
            sum_where(and_(raw.c.kind == "void", billable), count).label("voids"),
            sum_where(and_(raw.c.kind == "void", billable), raw.c.amount).label("void_amount"),
            sum_where(and_(is_meal, ~billable), count).label("refused"),
            *(sum_where(and_(is_meal, ~billable, raw.c.reasons.like(f"%{code}%")), count).label(f"r_{code}")
              for code in REASON_CODES),
            sum_where(and_(is_meal, is_late), count).label("late"),
            sum_where(and_(is_meal, billable, is_late), count).label("late_billable"),
            cast(func.min(raw.c.seq_min), BigInteger).label("seq_min"),
            cast(func.max(raw.c.seq_max), BigInteger).label("seq_max"),
            cast(func.sum(cast(raw.c.seq_n, Integer)), BigInteger).label("seq_n"),
            cast(func.max(raw.c.frozen_size), BigInteger).label("frozen_size"),
        )
        .group_by(*(raw.c[n] for n in labels))
        .cte("g")
    )


def with_suppliers(g: Any) -> Any:
    """`g` with each group's supplier (g2)."""
    billed, covering, supplier = supplier_of(g)
    return (
        select(g, supplier.label("supplier_id"))
        .outerjoin(billed, billed.id == g.c.contract_id)
        .outerjoin(covering, and_(g.c.contract_id.is_(None), covering.school_id == g.c.school_id,
                                  covering.valid_from <= g.c.day, covering.valid_to >= g.c.day))
        .cte("g2")
    )


def line_parts(reading: MonthReading, g2: Any) -> list[Select[Any]]:
    """The parts of the lines and of the total (a supplier's scope: its lines only)."""
    mine = [g2.c.supplier_id == reading.scope.supplier_id] if reading.scope.supplier_id else []
    sums = {n: group_total(g2.c[n], n) for n in NUMERIC if n in g2.c and not n.startswith("seq")}
    return [
        part("line", {"school_id": g2.c.school_id, "supplier_id": g2.c.supplier_id,
                      "category": g2.c.category, "meal_type": g2.c.meal_type}, sums)
        .select_from(g2).where(*mine)
        .group_by(g2.c.school_id, g2.c.supplier_id, g2.c.category, g2.c.meal_type),
        part("total", {}, sums).select_from(g2).where(*mine),
    ]


def _reasons(row: PartRow) -> dict[str, int]:
    return {code: int(row.values[f"r_{code}"] or 0) for code in REASON_CODES}


def lines_of(rows: list[PartRow], ceilings: dict[tuple[int, int, str, str], int]) -> list[Line]:
    """The lines of the `line` part's rows, with their ceilings; a line with a ceiling but no entries too."""
    lines: dict[tuple[Any, ...], Line] = {}
    for r in rows:
        key = (r.school_id, r.supplier_id, r.category, r.meal_type)
        lines[key] = Line(
            school_id=r.school_id, supplier_id=r.supplier_id, category=r.category, meal_type=r.meal_type,
            meals=int(r.meals), amount=int(r.amount), voids=int(r.voids), void_amount=int(r.void_amount),
            attempts=int(r.attempts), refused=int(r.refused), refused_by_reason=_reasons(r), late=int(r.late),
            late_billable=int(r.late_billable), ceiling=ceilings.get(key, 0),  # type: ignore[arg-type]
        )
    for key, ceiling in ceilings.items():
        if key not in lines:
            school_id, supplier_id, category, meal_type = key
            lines[key] = Line(school_id, supplier_id, category, meal_type, ceiling=ceiling,
                              refused_by_reason=dict.fromkeys(REASON_CODES, 0))
    return list(lines.values())


def totals_of(rows: list[PartRow], ceiling: int) -> Totals:
    """The month's totals from the `total` part's one row."""
    r = rows[0]
    if r.attempts is None and r.voids is None:  # no entries at all
        return Totals(refused_by_reason=dict.fromkeys(REASON_CODES, 0), ceiling=ceiling)
    return Totals(meals=int(r.meals or 0), amount=int(r.amount or 0), voids=int(r.voids or 0),
                  void_amount=int(r.void_amount or 0), attempts=int(r.attempts or 0), refused=int(r.refused or 0),
                  refused_by_reason=_reasons(r), late=int(r.late or 0), late_billable=int(r.late_billable or 0),
                  ceiling=ceiling)


# the first grouping: from the entries, or from the derived totals


def _raw_from_entries(reading: MonthReading) -> Any:
    e, frozen = _ENTRIES, reading.frozen()
    cutoff, needs_schools = late_cutoff(reading)
    late = case((e.c.received_at >= cutoff, 1), else_=0)
    keys = [e.c.school_id, e.c.serving_day, e.c.meal_type, e.c.category_code, e.c.contract_id, e.c.terminal_id]
    return reading.entry_rows([
        *(k.label(n) for k, n in zip(keys, RAW_LABELS, strict=True)), e.c.kind, e.c.verdict, e.c.reasons,
        late.label("late"),
        cast(func.count(), BigInteger).label("n"),
        # Prices are summed as 32-bit values (a meal costs far less than 2^31 tiyn): PostgreSQL then keeps
        # a plain 64-bit sum per group, not a numeric state.
        cast(func.sum(cast(e.c.price_tiyn, Integer)), BigInteger).label("amount"),
        cast(func.min(e.c.device_seq), BigInteger).label("seq_min"),
        cast(func.max(e.c.device_seq), BigInteger).label("seq_max"),
        cast(func.count(e.c.device_seq), BigInteger).label("seq_n"),
        cast(func.max(frozen.c.tree_size) if reading.any_frozen else null(), BigInteger).label("frozen_size"),
    ], frozen, needs_schools).group_by(*keys, e.c.kind, e.c.verdict, e.c.reasons, late).subquery("raw")


def _raw_from_totals(reading: MonthReading) -> Any:
    """The same rows from `ledger_day_totals`, whose key is exactly that grouping (sentinels back to NULL)."""
    t = _DAY_TOTALS
    keys = [t.c.school_id, t.c.serving_day, t.c.meal_type, func.nullif(t.c.category_code, NO_TEXT),
            func.nullif(t.c.contract_id, NO_CONTRACT), func.nullif(t.c.terminal_id, NO_TEXT)]
    return (
        select(*(k.label(n) for k, n in zip(keys, RAW_LABELS, strict=True)), t.c.kind, t.c.verdict,
               t.c.reasons, t.c.late, t.c.n, t.c.amount, t.c.seq_min, t.c.seq_max, t.c.seq_n,
               cast(null(), BigInteger).label("frozen_size"))
        .where(reading.in_scope(t.c.school_id), t.c.serving_day >= reading.month.first_day,
               t.c.serving_day <= reading.month.last_day)
        .subquery("raw")
    )


def late_cutoff(reading: MonthReading) -> tuple[ColumnElement[Any], bool]:
    """The first instant after an entry's serving day in its school's zone, as a CASE over the month's
    days (a join to a table of day ends would confuse the planner's row counts); and whether the
    expression needs the schools table (only when the scope spans several zones)."""

    def per_day(zone: str) -> ColumnElement[Any]:
        whens = [(_ENTRIES.c.serving_day == day, literal(day_end_utc(day, zone), UTCDateTime()))
                 for day in reading.month.days()[:-1]]
        return case(*whens, else_=literal(day_end_utc(reading.month.last_day, zone), UTCDateTime()))

    if reading.dialect == "postgresql" and all(fixed_offset(reading.month, zone) is not None for zone in reading.zones):
        # Cheaper per row than the CASE: (serving_day + the local midnight's UTC time of day) in UTC.
        def arithmetic(zone: str) -> ColumnElement[Any]:
            shift = dt.timedelta(days=1) - fixed_offset(reading.month, zone)  # type: ignore[operator]
            return func.timezone("UTC", cast(_ENTRIES.c.serving_day, DateTime) + literal(shift, Interval))

        if len(reading.zones) == 1:
            return arithmetic(reading.zones[0]), False
        return case(*((_SCHOOLS.c.timezone == zone, arithmetic(zone)) for zone in reading.zones[:-1]),
                    else_=arithmetic(reading.zones[-1])), True
    if len(reading.zones) == 1:
        return per_day(reading.zones[0]), False
    return case(*((_SCHOOLS.c.timezone == zone, per_day(zone)) for zone in reading.zones[:-1]),
                else_=per_day(reading.zones[-1])), True


def fixed_offset(month: Month, zone: str) -> dt.timedelta | None:
    """The zone's UTC offset if it is the same at every midnight of the month (and the next), else None."""
    tz = ZoneInfo(zone)
    offsets = {dt.datetime.combine(day, dt.time(), tz).utcoffset()
               for day in [*month.days(), month.next().first_day]}
    return offsets.pop() if len(offsets) == 1 else None
