"""SQL helpers of the reconciliation's statements: conditional sums, days as bits, and what PostgreSQL and
SQLite spell differently; and the per-transaction set-up of either (prepare)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Date, Integer, cast, func, literal, text
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import Session

from wallet.ledger.totals import SqliteBitOr

WORK_MEM = "128MB"
_AMOUNTS = ("amount", "void_amount", "claimed_amount")


def prepare(session: Session, *, from_entries: bool) -> None:
    """Set up the session's transaction for the statements: on SQLite the bit functions they call; on
    PostgreSQL the planner settings (`from_entries`: the month is read from the entries, not the totals)."""
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        raw.create_function("wallet_bit_count", 1, bit_count, deterministic=True)
        raw.create_aggregate("wallet_bit_or", 1, SqliteBitOr)
        return
    # For this transaction only: hash aggregation in memory; no JIT (compiling these expressions
    # costs seconds); and, over the entries, parallel plans, which the planner undervalues there
    # because it cannot know how few groups the month's rows fall into. Over the totals (some
    # hundred thousand rows) parallel plans cost more than they save, the ceiling's included
    # (measured: tests/bench/bench_reconciliation.py).
    parallel = (("parallel_setup_cost = 0", "parallel_tuple_cost = 0") if from_entries
                else ("max_parallel_workers_per_gather = 0",))
    for setting in (f"work_mem = '{WORK_MEM}'", "jit = off", *parallel):
        session.execute(text(f"SET LOCAL {setting}"))


def bit_count(value: int | None) -> int | None:
    """SQLite's wallet_bit_count: the one-bits of a non-negative integer (-1 for a negative one)."""
    return None if value is None else value.bit_count() if value >= 0 else -1


def sum_where(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[int]:
    """The sum of `value` over the rows where `condition` holds, 0 when none does. A FILTER clause, not a
    CASE: the rows it leaves out cost no call of the aggregate (most rows match few of a statement's sums)."""
    return cast(func.coalesce(func.sum(value).filter(condition), 0), BigInteger)


def group_total(column: Any, name: str = "") -> ColumnElement[int]:
    """The sum of a column of `g`: a count (per school x day x ... group, far below 2^31) is summed as a
    32-bit value, which PostgreSQL sums in a plain 64-bit state; an amount as the 64-bit value it is."""
    return cast(func.sum(column if name in _AMOUNTS else cast(column, Integer)), BigInteger)


def day_bit(dialect: str, day: Any, first: dt.date) -> ColumnElement[int]:
    """2^(day of month - 1): 31 days fit a 32-bit integer, whose sums PostgreSQL keeps cheaply."""
    if dialect == "postgresql":
        return literal(1, Integer).op("<<")(cast(day - literal(first, Date), Integer))
    return literal(1).op("<<")(cast(func.strftime("%d", day), Integer) - 1)


def popcount(dialect: str, value: Any) -> ColumnElement[int]:
    if dialect == "postgresql":
        return func.bit_count(cast(value, BIT(64)))
    return func.wallet_bit_count(value)  # registered on the SQLite connection by prepare


def bit_or(dialect: str, value: Any) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(func.bit_or(value), BigInteger)
    return func.wallet_bit_or(value)  # registered on the SQLite connection by prepare


def greatest(dialect: str, *values: Any) -> ColumnElement[Any]:
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


def least(dialect: str, *values: Any) -> ColumnElement[Any]:
    return func.least(*values) if dialect == "postgresql" else func.min(*values)
