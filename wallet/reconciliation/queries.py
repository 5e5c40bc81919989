"""The monthly reconciliation, computed by the database.

The month's ledger entries are read once, by one statement: a first aggregation (`g`) per school, serving
day, meal type, category, contract and terminal, from which the same statement derives, with further SQL
aggregation, the lines (school x supplier x category x meal type), the grand total, the days that look
wrong against the calendar, the terminals whose sequence numbers have holes and the comparison with the
suppliers' claims. Python only sorts and labels what comes back; it never sees an entry.

Beside it: the ceiling (eligible children x serving days, from the registry and the calendar), the
children with anomalies (one aggregation per child, day and meal type), the adjustments (entries about a
closed month that arrived after it was closed, found through a small partial index) and, for the few
terminals flagged above, the exact missing sequence runs.

Everything is read in one snapshot and, for a closed month, only up to the chain sizes signed at the close,
so a closed month gives the same figures every time.

An open month's first groupings (per school x day x ... x lateness, and per child) are read from the
derived totals kept by `wallet.ledger.append.append_entries` (`wallet/ledger/totals.py`), which hold
exactly those groups (the per-child one already summed per child and meal type, so the flagged children
are a filter over it); a closed month, or `from_entries=True`, reads the entries. Everything after those
groupings is the same SQL either way. The flagged children come from a second statement of their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Interval,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from wallet.identifiers import mask_iin
from wallet.ingest.context import CATEGORY_PRIORITY, one_of
from wallet.ingest.rules import REASON_CODES
from wallet.ledger.totals import SqliteBitOr, day_end_utc
from wallet.models import (
    CalendarDay,
    Checkpoint,
    ClosedPeriod,
    Contract,
    ContractPrice,
    Enrollment,
    LedgerChildMonthTotal,
    LedgerDayTotal,
    LedgerEntry,
    PeriodCloseCheckpoint,
    School,
    Student,
    StudentEligibility,
    Supplier,
    SupplierClaim,
    SupplierClaimLine,
)
from wallet.models.base import UTCDateTime
from wallet.models.totals import NO_CONTRACT, NO_TEXT
from wallet.reconciliation.heads import AsOf, frozen_sizes, load_as_of
from wallet.reconciliation.months import Month
from wallet.reconciliation.scope import Scope

RATIO_PLACES = Decimal("0.0001")
WORK_MEM = "128MB"
_FAR = 2**62  # "no size limit" for schools whose month is not frozen


@dataclass
class Line:
    school_id: int
    supplier_id: int | None
    category: str | None
    meal_type: str
    meals: int = 0
    amount: int = 0
    voids: int = 0
    void_amount: int = 0
    attempts: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    late: int = 0
    late_billable: int = 0
    ceiling: int = 0

    @property
    def net_meals(self) -> int:
        return self.meals - self.voids

    @property
    def net_amount(self) -> int:
        return self.amount - self.void_amount

    @property
    def ratio(self) -> Decimal | None:
        if not self.ceiling:
            return None
        return (Decimal(self.net_meals) / Decimal(self.ceiling)).quantize(RATIO_PLACES, ROUND_HALF_EVEN)


@dataclass
class Totals:
    meals: int = 0
    amount: int = 0
    voids: int = 0
    void_amount: int = 0
    attempts: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    late: int = 0
    late_billable: int = 0
    ceiling: int = 0
    adjustment_meals: int = 0
    adjustment_voids: int = 0
    adjustment_amount: int = 0

    @property
    def net_meals(self) -> int:
        return self.meals - self.voids

    @property
    def net_amount(self) -> int:
        return self.amount - self.void_amount

    @property
    def payable(self) -> int:
        """What the month pays: its own net amount plus adjustments for closed months."""
        return self.net_amount + self.adjustment_amount


@dataclass(frozen=True)
class Adjustment:
    school_id: int
    supplier_id: int | None
    category: str | None
    meal_type: str
    serving_month: str
    meals: int
    meal_amount: int
    voids: int
    void_amount: int
    contract_id: int | None = None  # only when asked for by contract (the payment registry)

    @property
    def net_amount(self) -> int:
        return self.meal_amount - self.void_amount


@dataclass(frozen=True)
class DayAnomaly:
    school_id: int
    day: dt.date
    day_kind: str  # serving, holiday, closure, or "none" when the calendar has no row
    anomaly: str  # meals_on_non_serving_day | no_meals_on_serving_day
    attempts: int
    meals: int


@dataclass(frozen=True)
class SequenceGap:
    school_id: int
    terminal_id: str
    first_missing: int
    last_missing: int

    @property
    def missing(self) -> int:
        return self.last_missing - self.first_missing + 1


@dataclass(frozen=True, slots=True)
class ChildAnomaly:
    school_id: int
    student_id: str
    iin: str | None
    day: dt.date
    meal_type: str
    anomaly: str  # billed_twice | repeated_meal_attempts | not_enrolled_attempts
    entries: int


@dataclass(frozen=True)
class ClaimInfo:
    claim_id: int
    supplier_id: int
    version: int
    submitted_at: dt.datetime
    file_sha256: str


@dataclass(frozen=True)
class ClaimComparison:
    supplier_id: int
    school_id: int | None  # None: the supplier's total
    day: dt.date | None  # None: a school's or the supplier's total
    meal_type: str | None
    claimed_meals: int
    ledger_meals: int
    claimed_amount: int
    ledger_amount: int

    @property
    def meals_difference(self) -> int:
        return self.claimed_meals - self.ledger_meals

    @property
    def amount_difference(self) -> int:
        return self.claimed_amount - self.ledger_amount


@dataclass
class Reconciliation:
    scope: Scope
    as_of: AsOf
    generated_at: dt.datetime
    schools: dict[int, tuple[str, str]]  # id -> (bin, name)
    suppliers: dict[int, tuple[str, str]]  # id -> (bin, name)
    totals: Totals
    lines: list[Line]
    adjustments: list[Adjustment]
    days: list[DayAnomaly]
    gaps: list[SequenceGap]
    children: list[ChildAnomaly]
    claims: list[ClaimInfo]
    claim_totals: list[ClaimComparison]  # per supplier (school None) and per supplier x school
    claim_differences: list[ClaimComparison]  # per school x day x meal type where claim and ledger differ

    @property
    def month(self) -> Month:
        return self.as_of.month


# --- entry point ----------------------------------------------------------------------------------------


def reconcile(session: Session, scope: Scope, month: Month, *, now: dt.datetime | None = None,
              from_entries: bool = False) -> Reconciliation:
    """The month's reconciliation for the scope, read in the session's current transaction (one snapshot).

    An open month's first aggregations come from the derived totals; `from_entries` reads the entries
    instead (as a closed month always does), to check one against the other."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    as_of = load_as_of(session, scope, month)
    # A closed month is stamped with its close, so files made from it are identical whenever they are made.
    generated_at = as_of.closed_at if as_of.closed and as_of.closed_at is not None else now.replace(microsecond=0)
    claims = _latest_claims(session, scope, month)
    ctx = _Query(session, scope, month, now, claims, any_frozen=any(h.frozen for h in as_of.heads),
                 from_entries=from_entries)
    main, flagged_children = ctx.main_rows()
    ceilings, ceiling_total = ctx.ceilings()
    lines = _lines(main["line"], ceilings)
    totals = _totals(main["total"], ceiling_total)
    adjustments = ctx.adjustments()
    for adjustment in adjustments:
        totals.adjustment_meals += adjustment.meals
        totals.adjustment_voids += adjustment.voids
        totals.adjustment_amount += adjustment.net_amount
    schools = {s.id: (s.bin, s.name) for s in scope.schools}
    supplier_ids = {ln.supplier_id for ln in lines} | {a.supplier_id for a in adjustments} | {
        c.supplier_id for c in claims}
    suppliers = {
        sid: (sbin, name)
        for sid, sbin, name in session.execute(
            select(Supplier.id, Supplier.bin, Supplier.name).where(Supplier.id.in_({i for i in supplier_ids if i}))
        )
    }

    def school_bin(school_id: int) -> str:
        return schools[school_id][0]

    def supplier_bin(supplier_id: int | None) -> str:
        return suppliers[supplier_id][0] if supplier_id in suppliers else ""

    lines.sort(key=lambda ln: (school_bin(ln.school_id), supplier_bin(ln.supplier_id), ln.category or "",
                               ln.meal_type))
    adjustments.sort(key=lambda a: (school_bin(a.school_id), supplier_bin(a.supplier_id), a.serving_month,
                                    a.category or "", a.meal_type))
    days = sorted(_day_anomalies(main["day_off"], main["day_empty"]), key=lambda d: (school_bin(d.school_id), d.day))
    gaps = sorted(ctx.sequence_gaps(main["terminal"]),
                  key=lambda g: (school_bin(g.school_id), g.terminal_id, g.first_missing))
    # Sorted by (school BIN, day, child, meal type, anomaly) through one string a row ('\0' between the
    # fields keeps the order of the tuple): tens of thousands of keys that are not tuples give the garbage
    # collector nothing to track.
    children = sorted(flagged_children, key=lambda c: f"{school_bin(c.school_id)}\0{c.day.isoformat()}\0"
                                                      f"{c.student_id}\0{c.meal_type}\0{c.anomaly}")
    claim_totals = sorted(
        [_comparison(r, with_school=r.school_id is not None) for r in main["claim_school"] + main["claim_supplier"]],
        key=lambda c: (supplier_bin(c.supplier_id), c.school_id is not None,
                       school_bin(c.school_id) if c.school_id else ""),
    )
    claim_differences = sorted(
        [_comparison(r, with_school=True) for r in main["claim_diff"]],
        key=lambda c: (supplier_bin(c.supplier_id), school_bin(c.school_id or 0), c.day, c.meal_type),
    )
    return Reconciliation(
        scope=scope, as_of=as_of, generated_at=generated_at, schools=schools, suppliers=suppliers, totals=totals,
        lines=lines, adjustments=adjustments, days=days, gaps=gaps, children=children,
        claims=sorted(claims, key=lambda c: supplier_bin(c.supplier_id)), claim_totals=claim_totals,
        claim_differences=claim_differences,
    )


# --- the statements -------------------------------------------------------------------------------------

_E = LedgerEntry.__table__
_S = School.__table__
_DAY_TOTALS = LedgerDayTotal.__table__
_CHILD_TOTALS = LedgerChildMonthTotal.__table__
_CHILD_NUMERIC = ("net", "bits", "dup", "dup_days", "not_enrolled", "not_enrolled_days")
_NUMERIC = (
    "attempts", "meals", "amount", "voids", "void_amount", "refused",
    *(f"r_{code}" for code in REASON_CODES),
    "late", "late_billable", "seq_min", "seq_max", "seq_n", "claimed_meals", "claimed_amount",
)
_KEYS: dict[str, Any] = {
    "school_id": Integer, "supplier_id": Integer, "category": String, "meal_type": String, "day": Date,
    "terminal_id": String, "day_kind": String,
}


def _sum(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[int]:
    """The sum of `value` over the rows where `condition` holds, 0 when none does. A FILTER clause, not a
    CASE: the rows it leaves out cost no call of the aggregate (most rows match few of a statement's sums)."""
    return cast(func.coalesce(func.sum(value).filter(condition), 0), BigInteger)


_AMOUNTS = ("amount", "void_amount", "claimed_amount")


def _total(column: Any, name: str = "") -> ColumnElement[int]:
    """The sum of a column of `g`: a count (per school x day x ... group, far below 2^31) is summed as a
    32-bit value, which PostgreSQL sums in a plain 64-bit state; an amount as the 64-bit value it is."""
    return cast(func.sum(column if name in _AMOUNTS else cast(column, Integer)), BigInteger)


def _day_bit(dialect: str, day: Any, first: dt.date) -> ColumnElement[int]:
    """2^(day of month - 1): 31 days fit a 32-bit integer, whose sums PostgreSQL keeps cheaply."""
    if dialect == "postgresql":
        return literal(1, Integer).op("<<")(cast(day - literal(first, Date), Integer))
    return literal(1).op("<<")(cast(func.strftime("%d", day), Integer) - 1)


def _popcount(dialect: str, value: Any) -> ColumnElement[int]:
    if dialect == "postgresql":
        return func.bit_count(cast(value, BIT(64)))
    return func.wallet_bit_count(value)  # registered on the SQLite connection by _Query


def _bit_or(dialect: str, value: Any) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(func.bit_or(value), BigInteger)
    return func.wallet_bit_or(value)  # registered on the SQLite connection by _Query


def _priority(category: Any) -> ColumnElement[str]:
    """A sort key putting a ground in the ingest's billing priority: '00primary_grades', ..., '99other'."""
    return case(
        *((category == code, literal(f"{n:02d}")) for n, code in enumerate(CATEGORY_PRIORITY)),
        else_=literal("99"),
    ) + category


def _greatest(dialect: str, *values: Any) -> ColumnElement[Any]:
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


def _least(dialect: str, *values: Any) -> ColumnElement[Any]:
    return func.least(*values) if dialect == "postgresql" else func.min(*values)


@dataclass
class _Row:
    part: str
    values: dict[str, Any]

    def __post_init__(self) -> None:
        # The columns as plain attributes too (read tens of thousands of times when many children are flagged).
        self.__dict__.update({k: v for k, v in self.values.items() if k not in ("part", "values")})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


class _Query:
    def __init__(self, session: Session, scope: Scope, month: Month, now: dt.datetime,
                 claims: list[ClaimInfo], *, any_frozen: bool = True, from_entries: bool = False) -> None:
        self.session = session
        self.scope = scope
        self.month = month
        self.now = now
        self.claims = claims
        self.any_frozen = any_frozen  # without a frozen school, the statements skip the join to close sizes
        # An open month (no school frozen) is read from the derived totals, which hold its groups; a closed
        # month, or a caller who asks (tests, `wallet totals check`), reads the entries themselves.
        self.from_entries = from_entries or any_frozen
        self.dialect = session.get_bind().dialect.name
        self.zones = scope.timezones or ["Asia/Almaty"]
        if self.dialect == "sqlite":
            raw = session.connection().connection.driver_connection
            raw.create_function("wallet_bit_count", 1, _bit_count, deterministic=True)
            raw.create_aggregate("wallet_bit_or", 1, SqliteBitOr)
        else:
            # For this transaction only: hash aggregation in memory; no JIT (compiling these expressions
            # costs seconds); and, over the entries, parallel plans, which the planner undervalues there
            # because it cannot know how few groups the month's rows fall into. Over the totals (some
            # hundred thousand rows) parallel plans cost more than they save, the ceiling's included
            # (measured: tests/bench/bench_reconciliation.py).
            parallel = (("parallel_setup_cost = 0", "parallel_tuple_cost = 0") if self.from_entries
                        else ("max_parallel_workers_per_gather = 0",))
            for setting in (f"work_mem = '{WORK_MEM}'", "jit = off", *parallel):
                session.execute(text(f"SET LOCAL {setting}"))

    # shared pieces

    def in_scope(self, column: Any) -> ColumnElement[bool]:
        return one_of(self.session, column, self.scope.school_ids)

    def month_entries(self, entry: Any = _E) -> list[ColumnElement[bool]]:
        return [self.in_scope(entry.c.school_id), entry.c.serving_day >= self.month.first_day,
                entry.c.serving_day <= self.month.last_day]

    def frozen(self) -> Any:
        return frozen_sizes(self.month).subquery("frozen")

    def supplier_of(self, g: Any) -> tuple[Any, Any, ColumnElement[int]]:
        """Contracts joined to an aggregate with school_id, day and contract_id: billed meals carry their
        contract; refused attempts belong to the contract in force at the school that day."""
        billed = aliased(Contract, name="billed")
        covering = aliased(Contract, name="covering")
        return billed, covering, func.coalesce(billed.supplier_id, covering.supplier_id)

    # the one statement over the month's entries

    def late_cutoff(self) -> tuple[ColumnElement[Any], bool]:
        """The first instant after an entry's serving day in its school's zone, as a CASE over the month's
        days (a join to a table of day ends would confuse the planner's row counts); and whether the
        expression needs the schools table (only when the scope spans several zones)."""

        def per_day(zone: str) -> ColumnElement[Any]:
            whens = [(_E.c.serving_day == day, literal(day_end_utc(day, zone), UTCDateTime()))
                     for day in self.month.days()[:-1]]
            return case(*whens, else_=literal(day_end_utc(self.month.last_day, zone), UTCDateTime()))

        if self.dialect == "postgresql" and all(self._fixed_offset(zone) is not None for zone in self.zones):
            # Cheaper per row than the CASE: (serving_day + the local midnight's UTC time of day) in UTC.
            def arithmetic(zone: str) -> ColumnElement[Any]:
                shift = dt.timedelta(days=1) - self._fixed_offset(zone)  # type: ignore[operator]
                return func.timezone("UTC", cast(_E.c.serving_day, DateTime) + literal(shift, Interval))

            if len(self.zones) == 1:
                return arithmetic(self.zones[0]), False
            return case(*((_S.c.timezone == zone, arithmetic(zone)) for zone in self.zones[:-1]),
                        else_=arithmetic(self.zones[-1])), True
        if len(self.zones) == 1:
            return per_day(self.zones[0]), False
        return case(*((_S.c.timezone == zone, per_day(zone)) for zone in self.zones[:-1]),
                    else_=per_day(self.zones[-1])), True

    def _fixed_offset(self, zone: str) -> dt.timedelta | None:
        """The zone's UTC offset if it is the same at every midnight of the month (and the next), else None."""
        tz = ZoneInfo(zone)
        offsets = {dt.datetime.combine(day, dt.time(), tz).utcoffset()
                   for day in [*self.month.days(), self.month.next().first_day]}
        return offsets.pop() if len(offsets) == 1 else None

    # the month's entries grouped by their raw values: read from the entries, or from the derived totals

    _RAW_LABELS = ("school_id", "day", "meal_type", "category", "contract_id", "terminal_id")

    def _raw_from_entries(self) -> Any:
        e, frozen = _E, self.frozen()
        cutoff, needs_schools = self.late_cutoff()
        late = case((e.c.received_at >= cutoff, 1), else_=0)
        keys = [e.c.school_id, e.c.serving_day, e.c.meal_type, e.c.category_code, e.c.contract_id, e.c.terminal_id]
        return self._entry_rows([
            *(k.label(n) for k, n in zip(keys, self._RAW_LABELS, strict=True)), e.c.kind, e.c.verdict, e.c.reasons,
            late.label("late"),
            cast(func.count(), BigInteger).label("n"),
            # Prices are summed as 32-bit values (a meal costs far less than 2^31 tiyn): PostgreSQL then keeps
            # a plain 64-bit sum per group, not a numeric state.
            cast(func.sum(cast(e.c.price_tiyn, Integer)), BigInteger).label("amount"),
            cast(func.min(e.c.device_seq), BigInteger).label("seq_min"),
            cast(func.max(e.c.device_seq), BigInteger).label("seq_max"),
            cast(func.count(e.c.device_seq), BigInteger).label("seq_n"),
            cast(func.max(frozen.c.tree_size) if self.any_frozen else null(), BigInteger).label("frozen_size"),
        ], frozen, needs_schools).group_by(*keys, e.c.kind, e.c.verdict, e.c.reasons, late).subquery("raw")

    def _raw_from_totals(self) -> Any:
        """The same rows from `ledger_day_totals`, whose key is exactly that grouping (sentinels back to NULL)."""
        t = _DAY_TOTALS
        keys = [t.c.school_id, t.c.serving_day, t.c.meal_type, func.nullif(t.c.category_code, NO_TEXT),
                func.nullif(t.c.contract_id, NO_CONTRACT), func.nullif(t.c.terminal_id, NO_TEXT)]
        return (
            select(*(k.label(n) for k, n in zip(keys, self._RAW_LABELS, strict=True)), t.c.kind, t.c.verdict,
                   t.c.reasons, t.c.late, t.c.n, t.c.amount, t.c.seq_min, t.c.seq_max, t.c.seq_n,
                   cast(null(), BigInteger).label("frozen_size"))
            .where(self.in_scope(t.c.school_id), t.c.serving_day >= self.month.first_day,
                   t.c.serving_day <= self.month.last_day)
            .subquery("raw")
        )

    def _per_child_from_entries(self) -> Any:
        e, frozen = _E, self.frozen()
        day_bit = _day_bit(self.dialect, e.c.serving_day, self.month.first_day)
        return self._entry_rows([
            e.c.school_id, e.c.student_id, e.c.meal_type, e.c.kind, e.c.verdict, e.c.reasons,
            cast(func.count(), BigInteger).label("n"),
            cast(func.sum(day_bit), BigInteger).label("bits"),
            _bit_or(self.dialect, day_bit).label("mask"),
        ], frozen).where(e.c.student_id.is_not(None)).group_by(
            e.c.school_id, e.c.student_id, e.c.meal_type, e.c.kind, e.c.verdict, e.c.reasons).subquery("per_child")

    def _children_from_totals(self) -> Any:
        """The per-child sums, as `base` makes them from the entries, read from `ledger_child_month_totals`,
        which holds them per child, month and meal type."""
        t = _CHILD_TOTALS
        return (
            select(t.c.school_id, t.c.student_id, t.c.meal_type, *(t.c[n] for n in _CHILD_NUMERIC))
            .where(self.in_scope(t.c.school_id), t.c.month == str(self.month))
            .cte("children")
        )

    def _entry_rows(self, columns: list[Any], frozen: Any, needs_schools: bool = False) -> Select[Any]:
        """The month's entries of the scope, up to the close sizes of frozen schools."""
        e = _E
        statement = select(*columns).select_from(e)
        if needs_schools:
            statement = statement.join(_S, _S.c.id == e.c.school_id)
        if not self.any_frozen:
            return statement.where(*self.month_entries())
        return (statement.outerjoin(frozen, frozen.c.school_id == e.c.school_id)
                .where(*self.month_entries(), or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size)))

    def base(self) -> tuple[Any, Any]:
        """The two aggregations of the month's entries: `g` per school x day x meal type x category x
        contract x terminal, and one per school x child.

        Each first groups the rows by their raw values (kind, verdict, reasons, lateness) with a handful
        of plain aggregates: a parallel hash aggregation whose cost per row is a few additions. The
        conditional sums (meals, amounts, refusals by reason, ...) are then taken over those few groups.
        (Conditional sums straight over the rows cost ~2 us a row; one GROUPING SETS pass over both
        groupings cannot run in parallel. Both were measured slower.) For an open month both first
        groupings are read from the derived totals instead, which hold exactly those groups."""
        raw = self._raw_from_entries() if self.from_entries else self._raw_from_totals()
        is_meal = raw.c.kind == "meal"
        billable = raw.c.verdict == "billable"
        is_late = raw.c.late == 1
        labels = self._RAW_LABELS
        # Counts are summed as 32-bit values (a group's count is far below 2^31): PostgreSQL then keeps a
        # plain 64-bit sum per group and aggregate, where a sum of 64-bit values keeps a 128-bit state
        # allocated apart, for each of the ~20 sums of each of the tens of thousands of groups (measured:
        # that aggregation took half the line statement's time). Amounts stay 64-bit.
        count = cast(raw.c.n, Integer)
        g = (
            select(
                *(raw.c[n] for n in labels),
                _sum(is_meal, count).label("attempts"),
                _sum(and_(is_meal, billable), count).label("meals"),
                _sum(and_(is_meal, billable), raw.c.amount).label("amount"),
                _sum(and_(raw.c.kind == "void", billable), count).label("voids"),
                _sum(and_(raw.c.kind == "void", billable), raw.c.amount).label("void_amount"),
                _sum(and_(is_meal, ~billable), count).label("refused"),
                *(_sum(and_(is_meal, ~billable, raw.c.reasons.like(f"%{code}%")), count).label(f"r_{code}")
                  for code in REASON_CODES),
                _sum(and_(is_meal, is_late), count).label("late"),
                _sum(and_(is_meal, billable, is_late), count).label("late_billable"),
                cast(func.min(raw.c.seq_min), BigInteger).label("seq_min"),
                cast(func.max(raw.c.seq_max), BigInteger).label("seq_max"),
                cast(func.sum(cast(raw.c.seq_n, Integer)), BigInteger).label("seq_n"),
                cast(func.max(raw.c.frozen_size), BigInteger).label("frozen_size"),
            )
            .group_by(*(raw.c[n] for n in labels))
            .cte("g")
        )
        # Per child: the days of its meals as bits, by meal type, kind, verdict and reasons. Net billable
        # meals of a type, and the sum of 2^(day-1) over them, have as many one-bits as meals exactly when
        # no day has two (adding a day's bit twice carries); refused attempts keep their days (bit or) and
        # count, and as many as bits means one a day. The derived totals hold these sums per child already.
        if not self.from_entries:
            return g, self._children_from_totals()
        c = self._per_child_from_entries()
        c_billable = c.c.verdict == "billable"
        sign = case((c.c.kind == "meal", 1), else_=-1)
        dup = and_(c.c.kind == "meal", ~c_billable, c.c.reasons.like("%duplicate_meal%"))
        not_enrolled = and_(c.c.kind == "meal", ~c_billable, c.c.reasons.like("%not_enrolled%"))
        children = (
            select(c.c.school_id, c.c.student_id, c.c.meal_type,
                   _sum(c_billable, sign * c.c.n).label("net"),
                   _sum(c_billable, sign * c.c.bits).label("bits"),
                   _sum(dup, c.c.n).label("dup"),
                   _bit_or(self.dialect, case((dup, c.c.mask), else_=0)).label("dup_days"),
                   _sum(not_enrolled, c.c.n).label("not_enrolled"),
                   _bit_or(self.dialect, case((not_enrolled, c.c.mask), else_=0)).label("not_enrolled_days"))
            .group_by(c.c.school_id, c.c.student_id, c.c.meal_type)
            .cte("children")
        )
        return g, children

    def main_rows(self) -> tuple[dict[str, list[_Row]], list[ChildAnomaly]]:
        g, children = self.base()
        billed, covering, supplier = self.supplier_of(g)
        g2 = (
            select(g, supplier.label("supplier_id"))
            .outerjoin(billed, billed.id == g.c.contract_id)
            .outerjoin(covering, and_(g.c.contract_id.is_(None), covering.school_id == g.c.school_id,
                                      covering.valid_from <= g.c.day, covering.valid_to >= g.c.day))
            .cte("g2")
        )
        mine = [g2.c.supplier_id == self.scope.supplier_id] if self.scope.supplier_id else []
        sums = {n: _total(g2.c[n], n) for n in _NUMERIC if n in g2.c and not n.startswith("seq")}
        parts: list[Select[Any]] = [
            self._part("line", {"school_id": g2.c.school_id, "supplier_id": g2.c.supplier_id,
                                "category": g2.c.category, "meal_type": g2.c.meal_type}, sums)
            .select_from(g2).where(*mine)
            .group_by(g2.c.school_id, g2.c.supplier_id, g2.c.category, g2.c.meal_type),
            self._part("total", {}, sums).select_from(g2).where(*mine),
        ]
        parts += self._day_parts(g)
        parts.append(self._terminal_part(g))
        if self.claims:
            parts += self._claim_parts(g2)
        rows: dict[str, list[_Row]] = {p: [] for p in ("line", "total", "day_off", "day_empty", "terminal",
                                                        "claim_diff", "claim_school", "claim_supplier")}
        result = self.session.execute(union_all(*parts))
        names = list(result.keys())
        for row in result:
            values = dict(zip(names, row, strict=True))
            rows[values["part"]].append(_Row(values["part"], values))
        # The flagged children in a statement of their own, read in the same snapshot: tens of thousands of
        # rows when many children have refused attempts, with their few columns and IINs, where the union
        # would pad each of them to every column of every part.
        # Their anomalies are made as the rows are read, so no list of rows outlives the loop.
        return rows, self.children(self.session.execute(self._child_part(children)))

    def _child_part(self, children: Any) -> Select[Any]:
        """Children with something to look at: refused second meals or meals where not enrolled, or a day
        with two billable meals of one type (the bit test above)."""
        students = Student.__table__
        # On PostgreSQL the id comes as its text, which the anomalies show (no UUID made and printed per row).
        student_id = (cast(children.c.student_id, String) if self.dialect == "postgresql"
                      else children.c.student_id)
        return (
            select(children.c.school_id, student_id.label("student_id"), children.c.meal_type,
                   *(children.c[n] for n in _CHILD_NUMERIC), students.c.iin)
            .select_from(children)
            .outerjoin(students, students.c.id == children.c.student_id)
            .where(or_(children.c.dup > 0, children.c.not_enrolled > 0,
                       _popcount(self.dialect, children.c.bits) != children.c.net))
        )

    def _part(self, name: str, keys: dict[str, Any], numbers: dict[str, Any]) -> Select[Any]:
        columns = [literal(name, String).label("part")]
        columns += [(keys[k] if k in keys else cast(null(), t)).label(k) for k, t in _KEYS.items()]
        columns += [(numbers[n] if n in numbers else cast(null(), BigInteger)).label(n) for n in _NUMERIC]
        return select(*columns)

    def _day_parts(self, g: Any) -> list[Select[Any]]:
        per_day = (
            select(g.c.school_id, g.c.day, _total(g.c.attempts).label("attempts"),
                   cast(_total(g.c.meals) - _total(g.c.voids), BigInteger).label("meals"))
            .group_by(g.c.school_id, g.c.day)
            .cte("per_day")
        )
        cal = CalendarDay.__table__
        off = (
            self._part("day_off", {"school_id": per_day.c.school_id, "day": per_day.c.day,
                                   "day_kind": func.coalesce(cal.c.kind, "none")},
                       {"attempts": per_day.c.attempts, "meals": per_day.c.meals})
            .select_from(per_day)
            .outerjoin(cal, and_(cal.c.school_id == per_day.c.school_id, cal.c.day == per_day.c.day))
            .where(or_(cal.c.kind.is_(None), cal.c.kind != "serving"), per_day.c.attempts > 0)
        )
        # Only days that are over in the school's zone can be found empty.
        over = [and_(_S.c.timezone == zone, cal.c.day < self.now.astimezone(ZoneInfo(zone)).date())
                for zone in self.zones]
        empty = (
            self._part("day_empty", {"school_id": cal.c.school_id, "day": cal.c.day, "day_kind": cal.c.kind},
                       {"attempts": func.coalesce(per_day.c.attempts, 0), "meals": func.coalesce(per_day.c.meals, 0)})
            .select_from(cal)
            .join(_S, _S.c.id == cal.c.school_id)
            .outerjoin(per_day, and_(per_day.c.school_id == cal.c.school_id, per_day.c.day == cal.c.day))
            .where(self.in_scope(cal.c.school_id), cal.c.kind == "serving", cal.c.day >= self.month.first_day,
                   cal.c.day <= self.month.last_day, or_(*over), func.coalesce(per_day.c.meals, 0) <= 0)
        )
        return [off, empty]

    def _terminal_part(self, g: Any) -> Select[Any]:
        per_terminal = (
            select(g.c.school_id, g.c.terminal_id, cast(func.min(g.c.seq_min), BigInteger).label("seq_min"),
                   cast(func.max(g.c.seq_max), BigInteger).label("seq_max"),
                   _total(g.c.seq_n).label("seq_n"),
                   func.max(g.c.frozen_size).label("frozen_size"))
            .where(g.c.terminal_id.is_not(None))
            .group_by(g.c.school_id, g.c.terminal_id)
            .cte("per_terminal")
        )
        before = _E.alias("before")
        has_predecessor = exists().where(
            before.c.terminal_id == per_terminal.c.terminal_id,
            before.c.device_seq == per_terminal.c.seq_min - 1,
            before.c.position <= func.coalesce(per_terminal.c.frozen_size, _FAR),
        )
        return (
            self._part("terminal", {"school_id": per_terminal.c.school_id, "terminal_id": per_terminal.c.terminal_id},
                       {"seq_min": per_terminal.c.seq_min, "seq_max": per_terminal.c.seq_max,
                        "seq_n": per_terminal.c.seq_n})
            .select_from(per_terminal)
            .where(or_(per_terminal.c.seq_max - per_terminal.c.seq_min + 1 > per_terminal.c.seq_n,
                       and_(per_terminal.c.seq_min > 1, ~has_predecessor)))
        )

    def _claim_parts(self, g2: Any) -> list[Select[Any]]:
        lines = SupplierClaimLine.__table__
        claim = SupplierClaim.__table__
        claimed_by = [c.supplier_id for c in self.claims]
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
            .where(lines.c.claim_id.in_([c.claim_id for c in self.claims]), self.in_scope(lines.c.school_id))
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
            self._part("claim_diff", {"school_id": cmp.c.school_id, "supplier_id": cmp.c.supplier_id,
                                      "day": cmp.c.day, "meal_type": cmp.c.meal_type},
                       {n: cmp.c[n] for n in numbers})
            .select_from(cmp)
            .where(or_(cmp.c.meals != cmp.c.claimed_meals, cmp.c.amount != cmp.c.claimed_amount)),
            self._part("claim_school", {"school_id": cmp.c.school_id, "supplier_id": cmp.c.supplier_id}, sums)
            .select_from(cmp).group_by(cmp.c.school_id, cmp.c.supplier_id),
            self._part("claim_supplier", {"supplier_id": cmp.c.supplier_id}, sums)
            .select_from(cmp).group_by(cmp.c.supplier_id),
        ]

    # the ceiling: eligible children x serving days

    def _ceiling_statement(self) -> Any:
        first, last = self.month.first_day, self.month.last_day
        en, se = Enrollment.__table__, StudentEligibility.__table__
        spans = (
            select(
                en.c.school_id, en.c.student_id, se.c.category_code,
                _greatest(self.dialect, en.c.valid_from, se.c.valid_from, literal(first, Date)).label("lo"),
                _least(self.dialect, func.coalesce(en.c.valid_to, literal(last, Date)), se.c.valid_to,
                       literal(last, Date)).label("hi"),
            )
            .join(se, se.c.student_id == en.c.student_id)
            .where(self.in_scope(en.c.school_id), en.c.valid_from <= last,
                   or_(en.c.valid_to.is_(None), en.c.valid_to >= first), se.c.valid_from <= last,
                   se.c.valid_to >= first)
            .subquery("spans")
        )
        distinct_spans = select(spans).where(spans.c.lo <= spans.c.hi).distinct().subquery("distinct_spans")
        ranked = (
            select(distinct_spans,
                   func.count().over(partition_by=[distinct_spans.c.school_id, distinct_spans.c.student_id])
                   .label("k"))
            .cte("ranked")
        )
        cal, contract = CalendarDay.__table__, Contract.__table__
        serving = and_(cal.c.kind == "serving", cal.c.day >= first, cal.c.day <= last)
        # Most children have one eligible span at their school: count them by span, then days by span.
        by_span = (
            select(ranked.c.school_id, ranked.c.category_code, ranked.c.lo, ranked.c.hi,
                   func.count().label("children"))
            .where(ranked.c.k == 1)
            .group_by(ranked.c.school_id, ranked.c.category_code, ranked.c.lo, ranked.c.hi)
            .subquery("by_span")
        )
        simple = (
            select(by_span.c.school_id, contract.c.id.label("contract_id"), by_span.c.category_code,
                   cast(func.sum(by_span.c.children), BigInteger).label("child_days"))
            .join(contract, and_(contract.c.school_id == by_span.c.school_id))
            .join(cal, and_(cal.c.school_id == by_span.c.school_id, serving, cal.c.day >= by_span.c.lo,
                            cal.c.day <= by_span.c.hi, cal.c.day >= contract.c.valid_from,
                            cal.c.day <= contract.c.valid_to))
            .group_by(by_span.c.school_id, contract.c.id, by_span.c.category_code)
        )
        # Children with two spans (two grounds, or two enrollments): counted by pair of spans; each day
        # goes to the first ground in the billing priority, as the ingest bills them.
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
            (and_(in_a, in_b), case((_priority(pairs.c.cat_a) <= _priority(pairs.c.cat_b), pairs.c.cat_a),
                                    else_=pairs.c.cat_b)),
            (in_a, pairs.c.cat_a), else_=pairs.c.cat_b,
        )
        two = (
            select(pairs.c.school_id, contract.c.id, pair_category, cast(func.sum(pairs.c.children), BigInteger))
            .join(cal, and_(cal.c.school_id == pairs.c.school_id, serving, or_(in_a, in_b)))
            .join(contract, and_(contract.c.school_id == pairs.c.school_id, contract.c.valid_from <= cal.c.day,
                                 contract.c.valid_to >= cal.c.day))
            .group_by(pairs.c.school_id, contract.c.id, pair_category)
        )
        # Three spans or more (rare): day by day and child by child.
        per_day = (
            select(ranked.c.school_id, ranked.c.student_id, cal.c.day,
                   func.min(_priority(ranked.c.category_code)).label("key"))
            .join(cal, and_(cal.c.school_id == ranked.c.school_id, serving, cal.c.day >= ranked.c.lo,
                            cal.c.day <= ranked.c.hi))
            .where(ranked.c.k > 2)
            .group_by(ranked.c.school_id, ranked.c.student_id, cal.c.day)
            .subquery("per_child_day")
        )
        category = func.substr(per_day.c.key, 3)
        several = (
            select(per_day.c.school_id, contract.c.id, category, cast(func.count(), BigInteger))
            .join(contract, and_(contract.c.school_id == per_day.c.school_id,
                                 contract.c.valid_from <= per_day.c.day, contract.c.valid_to >= per_day.c.day))
            .group_by(per_day.c.school_id, contract.c.id, category)
        )
        child_days = union_all(simple, two, several).subquery("child_days")
        price = ContractPrice.__table__
        per_line = (
            select(child_days.c.school_id, contract.c.supplier_id, child_days.c.category_code, price.c.meal_type,
                   cast(func.sum(child_days.c.child_days), BigInteger).label("ceiling"))
            .join(contract, contract.c.id == child_days.c.contract_id)
            .join(price, and_(price.c.contract_id == child_days.c.contract_id,
                              price.c.category_code == child_days.c.category_code))
            .group_by(child_days.c.school_id, contract.c.supplier_id, child_days.c.category_code, price.c.meal_type)
        )
        if self.scope.supplier_id:
            per_line = per_line.where(contract.c.supplier_id == self.scope.supplier_id)
        return per_line.cte("ceiling")

    def ceilings(self) -> tuple[dict[tuple[int, int, str, str], int], int]:
        """The ceiling of every line, and their total (in the same statement)."""
        ceiling = self._ceiling_statement()
        total = select(cast(null(), Integer), cast(null(), Integer), cast(null(), String), cast(null(), String),
                       cast(func.coalesce(func.sum(ceiling.c.ceiling), 0), BigInteger))
        rows = self.session.execute(union_all(select(ceiling), total)).all()
        per_line = {(r.school_id, r.supplier_id, r.category_code, r.meal_type): int(r.ceiling)
                    for r in rows if r.school_id is not None}
        return per_line, sum(int(r.ceiling) for r in rows if r.school_id is None)

    # children

    def children(self, flagged: Iterable[Any]) -> list[ChildAnomaly]:
        """The anomalies of the children flagged by the main statement. Their days come from its bit masks
        when each day has one; a child with a day of two (double billing, or two refused attempts) has its
        month's entries read again, day by day (few children, through the index on student and day).

        Tens of thousands of children can be flagged (every refused second meal): the loop reads each row
        once, as a tuple, and makes its anomalies without further lookups."""
        show_iin = self.scope.show_iin
        shown_iin: dict[str, str | None] = {}  # by the id's text

        days = self.month.days()
        found: list[ChildAnomaly] = []
        add = found.append
        again: set[uuid.UUID] = set()  # children whose entries must be read day by day
        for school_id, student_id, meal_type, net, bits, dup, dup_days, not_enrolled, not_enrolled_days, iin \
                in flagged:
            student = student_id if isinstance(student_id, str) else str(student_id)
            iin = None if iin is None else iin if show_iin else mask_iin(iin)
            shown_iin[student] = iin
            dup_days, not_enrolled_days = dup_days or 0, not_enrolled_days or 0
            bits = bits or 0
            if ((bits.bit_count() if bits >= 0 else -1) != net or dup_days.bit_count() != dup
                    or not_enrolled_days.bit_count() != not_enrolled):
                again.add(student_id if isinstance(student_id, uuid.UUID) else uuid.UUID(student))
                continue
            for mask, anomaly in ((dup_days, "repeated_meal_attempts"), (not_enrolled_days, "not_enrolled_attempts")):
                while mask:
                    low = mask & -mask
                    add(ChildAnomaly(school_id, student, iin, days[low.bit_length() - 1], meal_type, anomaly, 1))
                    mask ^= low
        if again:
            e, frozen = _E, self.frozen()
            billable = e.c.verdict == "billable"
            net = _sum(billable, case((e.c.kind == "meal", 1), else_=-1))
            dup = _sum(and_(e.c.kind == "meal", ~billable, e.c.reasons.like("%duplicate_meal%")))
            not_enrolled = _sum(and_(e.c.kind == "meal", ~billable, e.c.reasons.like("%not_enrolled%")))
            rows = self.session.execute(
                select(e.c.school_id, e.c.student_id, e.c.serving_day, e.c.meal_type, net.label("net"),
                       dup.label("dup"), not_enrolled.label("not_enrolled"))
                .outerjoin(frozen, frozen.c.school_id == e.c.school_id)
                .where(*self.month_entries(), one_of(self.session, e.c.student_id, again),
                       or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size))
                .group_by(e.c.school_id, e.c.student_id, e.c.serving_day, e.c.meal_type)
                .having(or_(net > 1, dup > 0, not_enrolled > 0))
            )
            for r in rows:
                student = str(r.student_id)
                for anomaly, count in (("billed_twice", r.net if r.net > 1 else 0),
                                       ("repeated_meal_attempts", r.dup), ("not_enrolled_attempts", r.not_enrolled)):
                    if count:
                        found.append(ChildAnomaly(r.school_id, student, shown_iin.get(student), r.serving_day,
                                                  r.meal_type, anomaly, int(count)))
        return found

    # adjustments: entries about a closed month that arrived, in this month, after that month was closed

    def adjustments(self, *, by_contract: bool = False) -> list[Adjustment]:
        """`by_contract`: one row per contract too (a meal refused for its closed month belongs to the
        contract in force at the school that day, a void to its meal's contract)."""
        e, s = _E, _S
        this_frozen = self.frozen()
        closed = ClosedPeriod.__table__
        pcc, ck = PeriodCloseCheckpoint.__table__, Checkpoint.__table__.alias("close_ck")
        received_here = or_(*(and_(s.c.timezone == zone, e.c.received_at >= self.month.starts_at(zone),
                                   e.c.received_at < self.month.ends_at(zone)) for zone in self.zones))
        after_close = or_(e.c.position > ck.c.tree_size,
                          and_(ck.c.tree_size.is_(None), e.c.reasons == "period_closed"))
        earlier = _E.alias("earlier")
        void = _E.alias("void")
        voided = exists().where(void.c.refers_to == e.c.id,
                                void.c.position <= func.coalesce(this_frozen.c.tree_size, _FAR))
        first_of_slot = ~exists().where(
            earlier.c.student_id == e.c.student_id, earlier.c.serving_day == e.c.serving_day,
            earlier.c.meal_type == e.c.meal_type, earlier.c.kind == "meal", earlier.c.reasons == "period_closed",
            earlier.c.id < e.c.id,
        )
        late_meal = and_(e.c.kind == "meal", e.c.reasons == "period_closed", e.c.student_id.is_not(None),
                         first_of_slot, ~voided)
        late_void = and_(e.c.kind == "void", e.c.verdict == "billable")
        billed, covering, supplier = self.supplier_of(e)
        price = ContractPrice.__table__
        contract = func.coalesce(e.c.contract_id, covering.id) if by_contract else null()
        statement = (
            select(
                e.c.school_id, supplier.label("supplier_id"), e.c.category_code, e.c.meal_type,
                e.c.billing_month, cast(contract, Integer).label("contract_id"),
                _sum(late_meal).label("meals"),
                _sum(late_meal, func.coalesce(price.c.price_tiyn, 0)).label("meal_amount"),
                _sum(late_void).label("voids"),
                _sum(late_void, e.c.price_tiyn).label("void_amount"),
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
                self.in_scope(e.c.school_id),
                received_here,
                e.c.billing_month != str(self.month),
                after_close,
                or_(this_frozen.c.tree_size.is_(None), e.c.position <= this_frozen.c.tree_size),
                or_(late_meal, late_void),
            )
            .group_by(e.c.school_id, supplier, e.c.category_code, e.c.meal_type, e.c.billing_month,
                      *([contract] if by_contract else []))
        )
        if self.scope.supplier_id:
            statement = statement.where(supplier == self.scope.supplier_id)
        return [Adjustment(r.school_id, r.supplier_id, r.category_code, r.meal_type, r.billing_month, int(r.meals),
                           int(r.meal_amount), int(r.voids), int(r.void_amount), r.contract_id)
                for r in self.session.execute(statement)]

    # sequence gaps of the flagged terminals

    def sequence_gaps(self, flagged: Iterable[_Row]) -> list[SequenceGap]:
        e = _E
        frozen_sizes_now = self.frozen()
        frozen = {school_id: size for school_id, size in self.session.execute(
            select(frozen_sizes_now.c.school_id, frozen_sizes_now.c.tree_size))}
        gaps: list[SequenceGap] = []
        for row in flagged:
            limit = frozen.get(row.school_id, _FAR)
            visible = [e.c.terminal_id == row.terminal_id, e.c.position <= limit]
            previous = self.session.scalar(
                select(func.max(e.c.device_seq)).where(*visible, e.c.device_seq < row.seq_min)) or 0
            lag = func.lag(e.c.device_seq).over(order_by=e.c.device_seq)
            ordered = (
                select(e.c.device_seq.label("seq"), lag.label("prev"))
                .where(*visible, e.c.device_seq >= previous, e.c.device_seq <= row.seq_max)
                .subquery()
            )
            start = [] if previous else [(0, row.seq_min)]
            runs = start + list(self.session.execute(
                select(ordered.c.prev, ordered.c.seq).where(ordered.c.prev.is_not(None),
                                                            ordered.c.seq - ordered.c.prev > 1)
            ).all())
            gaps += [SequenceGap(row.school_id, row.terminal_id, int(prev) + 1, int(seq) - 1)
                     for prev, seq in runs if seq - prev > 1]
        return gaps


# --- assembling ----------------------------------------------------------------------------------------


def _bit_count(value: int | None) -> int | None:
    return None if value is None else value.bit_count() if value >= 0 else -1


def _latest_claims(session: Session, scope: Scope, month: Month) -> list[ClaimInfo]:
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


def _reasons(row: _Row) -> dict[str, int]:
    return {code: int(row.values[f"r_{code}"] or 0) for code in REASON_CODES}


def _lines(rows: list[_Row], ceilings: dict[tuple[int, int, str, str], int]) -> list[Line]:
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


def _totals(rows: list[_Row], ceiling: int) -> Totals:
    r = rows[0]
    if r.attempts is None and r.voids is None:  # no entries at all
        return Totals(refused_by_reason=dict.fromkeys(REASON_CODES, 0), ceiling=ceiling)
    return Totals(meals=int(r.meals or 0), amount=int(r.amount or 0), voids=int(r.voids or 0),
                  void_amount=int(r.void_amount or 0), attempts=int(r.attempts or 0), refused=int(r.refused or 0),
                  refused_by_reason=_reasons(r), late=int(r.late or 0), late_billable=int(r.late_billable or 0),
                  ceiling=ceiling)


def _day_anomalies(off: list[_Row], empty: list[_Row]) -> list[DayAnomaly]:
    return [DayAnomaly(r.school_id, r.day, r.day_kind, "meals_on_non_serving_day", int(r.attempts), int(r.meals))
            for r in off] + [
        DayAnomaly(r.school_id, r.day, r.day_kind, "no_meals_on_serving_day", int(r.attempts), int(r.meals))
        for r in empty]


def _comparison(r: _Row, *, with_school: bool) -> ClaimComparison:
    return ClaimComparison(
        supplier_id=r.supplier_id, school_id=r.school_id if with_school else None, day=r.day,
        meal_type=r.meal_type, claimed_meals=int(r.claimed_meals or 0), ledger_meals=int(r.meals or 0),
        claimed_amount=int(r.claimed_amount or 0), ledger_amount=int(r.amount or 0),
    )


def month_adjustments(session: Session, scope: Scope, month: Month, *, by_contract: bool = False,
                      now: dt.datetime | None = None) -> list[Adjustment]:
    """The month's adjustments alone, as the reconciliation counts them (the payment registry adds them to
    the month's meals by contract)."""
    return _Query(session, scope, month, now or dt.datetime.now(dt.UTC), []).adjustments(by_contract=by_contract)
