"""The derived totals of the ledger (`ledger_day_totals`, `ledger_child_month_totals`).

`add_entries` folds a batch of new entries into them, in the append's transaction and under the school's
chain-head lock: the batch is grouped in Python and each table gets one upsert statement (executemany,
rows in key order). `fresh_day_totals` / `fresh_child_totals` are the same groups computed from the
entries by the database; `rebuild` replaces the tables with them and `check` lists where the two differ.
The ledger stays the record: the totals can always be rebuilt from it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    and_,
    case,
    cast,
    delete,
    except_,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from wallet.models import ChainHead, LedgerChildMonthTotal, LedgerDayTotal, LedgerEntry, School
from wallet.models.totals import NO_CONTRACT, NO_TEXT

_DAY = LedgerDayTotal.__table__
_CHILD = LedgerChildMonthTotal.__table__
_E = LedgerEntry.__table__
_S = School.__table__
DAY_KEYS = ("school_id", "serving_day", "meal_type", "category_code", "contract_id", "terminal_id", "kind",
            "verdict", "reasons", "late")
DAY_VALUES = ("n", "amount", "seq_min", "seq_max", "seq_n")
CHILD_KEYS = ("school_id", "month", "student_id", "meal_type")
CHILD_VALUES = ("net", "bits", "dup", "dup_days", "not_enrolled", "not_enrolled_days")
# Refused meal attempts counted apart per child (the reconciliation's child anomalies): reasons naming them.
DUPLICATE_MEAL, NOT_ENROLLED = "duplicate_meal", "not_enrolled"


@lru_cache(maxsize=4096)
def day_end_utc(day: dt.date, zone: str) -> dt.datetime:
    """The first instant after `day` in `zone`, in UTC: an entry received then or later is late."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)


def is_late(received_at: dt.datetime, serving_day: dt.date, zone: str) -> bool:
    return received_at >= day_end_utc(serving_day, zone)


# --- maintained on append ---------------------------------------------------------------------------------


def add_entries(session: Session, entries: Sequence[LedgerEntry], zone: str) -> None:
    """Fold `entries` (all of one school, whose time zone is `zone`) into the totals."""
    if not entries:
        return
    days: dict[tuple[Any, ...], list[Any]] = {}
    children: dict[tuple[Any, ...], list[int]] = {}  # net, bits, dup, dup_days, not_enrolled, not_enrolled_days
    for e in entries:
        reasons = e.reasons or ""
        price = e.price_tiyn or 0
        key = (e.school_id, e.serving_day, e.meal_type, e.category_code or NO_TEXT, e.contract_id or NO_CONTRACT,
               e.terminal_id or NO_TEXT, e.kind, e.verdict, reasons,
               1 if is_late(e.received_at, e.serving_day, zone) else 0)
        seq = e.device_seq
        found = days.get(key)
        if found is None:
            days[key] = [1, price, seq, seq, 0 if seq is None else 1]
        else:
            found[0] += 1
            found[1] += price
            if seq is not None:
                found[2] = seq if found[2] is None else min(found[2], seq)
                found[3] = seq if found[3] is None else max(found[3], seq)
                found[4] += 1
        if e.student_id is not None:
            bit = 1 << (e.serving_day.day - 1)
            child_key = (e.school_id, f"{e.serving_day:%Y-%m}", e.student_id, e.meal_type)
            child = children.get(child_key)
            if child is None:
                child = children[child_key] = [0, 0, 0, 0, 0, 0]
            if e.verdict == "billable":
                sign = 1 if e.kind == "meal" else -1
                child[0] += sign
                child[1] += sign * bit
            elif e.kind == "meal":
                if DUPLICATE_MEAL in reasons:
                    child[2] += 1
                    child[3] |= bit
                if NOT_ENROLLED in reasons:
                    child[4] += 1
                    child[5] |= bit
    dialect = session.get_bind().dialect.name
    # Key order: two transactions never take the same rows in opposite orders.
    day_rows = [(*k, *days[k]) for k in sorted(days)]
    child_rows = [(*k, *children[k]) for k in sorted(children)]
    if dialect == "postgresql":
        # One statement a table, its rows as arrays (a fixed, prepared text; one round trip each).
        for statement, names, rows in ((_PG_DAY_UPSERT, DAY_KEYS + DAY_VALUES, day_rows),
                                       (_PG_CHILD_UPSERT, CHILD_KEYS + CHILD_VALUES, child_rows)):
            if rows:
                session.execute(statement, dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))
        return
    session.execute(_day_upsert(dialect), [dict(zip(DAY_KEYS + DAY_VALUES, r, strict=True)) for r in day_rows])
    if child_rows:
        session.execute(_child_upsert(dialect),
                        [dict(zip(CHILD_KEYS + CHILD_VALUES, r, strict=True)) for r in child_rows])


_DAY_TYPES = ("integer", "date", "text", "text", "integer", "text", "text", "text", "text", "integer", "bigint",
              "bigint", "bigint", "bigint", "bigint")
_CHILD_TYPES = ("integer", "text", "uuid", "text", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint")


def _pg_upsert(table: Any, names: tuple[str, ...], types: tuple[str, ...], keys: tuple[str, ...],
               updates: str) -> Any:
    # Table, columns and types are this module's constants, never input; the values are bound parameters.
    arrays = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in zip(names, types, strict=True))
    return text(f"INSERT INTO {table.name} AS t ({', '.join(names)}) SELECT * FROM unnest({arrays}) "  # noqa: S608
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


_PG_DAY_UPSERT = _pg_upsert(
    _DAY, DAY_KEYS + DAY_VALUES, _DAY_TYPES, DAY_KEYS,
    "n = t.n + excluded.n, amount = t.amount + excluded.amount, seq_min = LEAST(t.seq_min, excluded.seq_min), "
    "seq_max = GREATEST(t.seq_max, excluded.seq_max), seq_n = t.seq_n + excluded.seq_n")
_PG_CHILD_UPSERT = _pg_upsert(
    _CHILD, CHILD_KEYS + CHILD_VALUES, _CHILD_TYPES, CHILD_KEYS,
    "net = t.net + excluded.net, bits = t.bits + excluded.bits, dup = t.dup + excluded.dup, "
    "dup_days = t.dup_days | excluded.dup_days, not_enrolled = t.not_enrolled + excluded.not_enrolled, "
    "not_enrolled_days = t.not_enrolled_days | excluded.not_enrolled_days")


@lru_cache(maxsize=4)
def _day_upsert(dialect: str) -> Any:
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_DAY)
    new, t = statement.excluded, _DAY.c
    if dialect == "postgresql":
        seq_min, seq_max = func.least(t.seq_min, new.seq_min), func.greatest(t.seq_max, new.seq_max)
    else:  # SQLite's min(a, b) is NULL when either is: fall back to the one that is set
        seq_min = func.coalesce(func.min(t.seq_min, new.seq_min), t.seq_min, new.seq_min)
        seq_max = func.coalesce(func.max(t.seq_max, new.seq_max), t.seq_max, new.seq_max)
    return statement.on_conflict_do_update(
        index_elements=list(DAY_KEYS),
        set_={"n": t.n + new.n, "amount": t.amount + new.amount, "seq_min": seq_min, "seq_max": seq_max,
              "seq_n": t.seq_n + new.seq_n},
    )


@lru_cache(maxsize=4)
def _child_upsert(dialect: str) -> Any:
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_CHILD)
    new, t = statement.excluded, _CHILD.c
    return statement.on_conflict_do_update(
        index_elements=list(CHILD_KEYS),
        set_={"net": t.net + new.net, "bits": t.bits + new.bits, "dup": t.dup + new.dup,
              "dup_days": t.dup_days.op("|")(new.dup_days), "not_enrolled": t.not_enrolled + new.not_enrolled,
              "not_enrolled_days": t.not_enrolled_days.op("|")(new.not_enrolled_days)},
    )


# --- the same groups, from the entries ------------------------------------------------------------------


def _register_sqlite_functions(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        raw.create_function("wallet_is_late", 3, _sqlite_is_late, deterministic=True)
        raw.create_aggregate("wallet_bit_or", 1, SqliteBitOr)


def _sqlite_is_late(received_at: str, serving_day: str, zone: str) -> int:
    received = dt.datetime.fromisoformat(received_at)
    received = received.replace(tzinfo=dt.UTC) if received.tzinfo is None else received
    return 1 if is_late(received, dt.date.fromisoformat(serving_day), zone) else 0


class SqliteBitOr:
    """BIT_OR for SQLite (registered as `wallet_bit_or`; the reconciliation uses it too)."""

    def __init__(self) -> None:
        self.value = 0

    def step(self, value: int | None) -> None:
        self.value |= value or 0

    def finalize(self) -> int:
        return self.value


def _late(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        day_end = func.timezone(_S.c.timezone, cast(_E.c.serving_day + literal(1, Integer), DateTime))
        return case((_E.c.received_at >= day_end, 1), else_=0)
    return func.wallet_is_late(_E.c.received_at, _E.c.serving_day, _S.c.timezone)


def _scoped(statement: Select[Any], column: Any, school_ids: Iterable[int] | None) -> Select[Any]:
    return statement if school_ids is None else statement.where(column.in_(sorted(set(school_ids))))


def fresh_day_totals(dialect: str, school_ids: Iterable[int] | None = None) -> Select[Any]:
    """`ledger_day_totals` as the entries give them (same columns, same sentinels)."""
    e = _E.c
    late = _late(dialect)
    keys = [e.school_id, e.serving_day, e.meal_type, func.coalesce(e.category_code, NO_TEXT),
            func.coalesce(e.contract_id, NO_CONTRACT), func.coalesce(e.terminal_id, NO_TEXT), e.kind, e.verdict,
            e.reasons, late]
    statement = (
        select(*(k.label(n) for k, n in zip(keys, DAY_KEYS, strict=True)),
               cast(func.count(), BigInteger).label("n"),
               cast(func.sum(e.price_tiyn), BigInteger).label("amount"),
               cast(func.min(e.device_seq), BigInteger).label("seq_min"),
               cast(func.max(e.device_seq), BigInteger).label("seq_max"),
               cast(func.count(e.device_seq), BigInteger).label("seq_n"))
        .select_from(_E.join(_S, _S.c.id == e.school_id))
        .group_by(*keys)
    )
    return _scoped(statement, e.school_id, school_ids)


def fresh_child_totals(dialect: str, school_ids: Iterable[int] | None = None) -> Select[Any]:
    """`ledger_child_month_totals` as the entries give them."""
    e = _E.c
    if dialect == "postgresql":
        month = func.to_char(e.serving_day, "YYYY-MM")
        bit = literal(1, BigInteger).op("<<")(cast(func.extract("day", e.serving_day), Integer) - 1)
        bit_or = func.bit_or
    else:
        month = func.strftime("%Y-%m", e.serving_day)
        bit = literal(1).op("<<")(cast(func.strftime("%d", e.serving_day), Integer) - 1)
        bit_or = func.wallet_bit_or
    billable = e.verdict == "billable"
    sign = case((e.kind == "meal", 1), else_=-1)
    dup = and_(e.kind == "meal", e.verdict != "billable", e.reasons.like(f"%{DUPLICATE_MEAL}%"))
    not_enrolled = and_(e.kind == "meal", e.verdict != "billable", e.reasons.like(f"%{NOT_ENROLLED}%"))

    def total(value: Any) -> ColumnElement[int]:
        return cast(func.coalesce(value, 0), BigInteger)

    keys = [e.school_id, month, e.student_id, e.meal_type]
    statement = (
        select(*(k.label(n) for k, n in zip(keys, CHILD_KEYS, strict=True)),
               total(func.sum(case((billable, sign), else_=0))).label("net"),
               total(func.sum(case((billable, sign * bit), else_=0))).label("bits"),
               total(func.sum(case((dup, 1), else_=0))).label("dup"),
               total(bit_or(case((dup, bit), else_=0))).label("dup_days"),
               total(func.sum(case((not_enrolled, 1), else_=0))).label("not_enrolled"),
               total(bit_or(case((not_enrolled, bit), else_=0))).label("not_enrolled_days"))
        .where(e.student_id.is_not(None))
        .group_by(*keys)
    )
    return _scoped(statement, e.school_id, school_ids)


def _lock_heads(session: Session, school_ids: Iterable[int] | None) -> None:
    """Hold the chain heads (in key order, as appends do one by one), so no append runs meanwhile."""
    statement = select(ChainHead.school_id).order_by(ChainHead.school_id).with_for_update()
    session.execute(_scoped(statement, ChainHead.school_id, school_ids)).all()


def rebuild(session: Session, school_ids: Iterable[int] | None = None) -> tuple[int, int]:
    """Replace the totals (of the given schools, or all) with those of the entries, in the session's
    transaction (the caller commits). Appends to those schools wait meanwhile. Returns the row counts."""
    ids = None if school_ids is None else sorted(set(school_ids))
    dialect = session.get_bind().dialect.name
    _register_sqlite_functions(session)
    _lock_heads(session, ids)
    counts = []
    for table, keys, values, fresh in ((_DAY, DAY_KEYS, DAY_VALUES, fresh_day_totals),
                                       (_CHILD, CHILD_KEYS, CHILD_VALUES, fresh_child_totals)):
        session.execute(_scoped(delete(table), table.c.school_id, ids))  # type: ignore[arg-type]
        session.execute(table.insert().from_select(list(keys + values), fresh(dialect, ids)))
        counts.append(session.scalar(_scoped(select(func.count()).select_from(table), table.c.school_id, ids)) or 0)
    return counts[0], counts[1]


@dataclass(frozen=True)
class Difference:
    table: str
    side: str  # "entries": a group the entries give that the totals lack or hold otherwise; "totals": the reverse
    values: dict[str, Any]

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.table}: {'expected' if self.side == 'entries' else 'found'} {shown}"


def check(session: Session, school_ids: Iterable[int] | None = None, *, limit: int = 1000) -> list[Difference]:
    """The rows where the totals and a fresh aggregation of the entries differ (at most `limit` a side and
    table), each side of a table compared in one statement, so in one snapshot."""
    ids = None if school_ids is None else sorted(set(school_ids))
    dialect = session.get_bind().dialect.name
    _register_sqlite_functions(session)
    found: list[Difference] = []
    for table, keys, values, fresh in ((_DAY, DAY_KEYS, DAY_VALUES, fresh_day_totals),
                                       (_CHILD, CHILD_KEYS, CHILD_VALUES, fresh_child_totals)):
        stored = _scoped(select(*(table.c[n] for n in keys + values)), table.c.school_id, ids)
        expected = fresh(dialect, ids)
        for side, statement in (("entries", except_(expected, stored)), ("totals", except_(stored, expected))):
            query = statement.subquery()
            for row in session.execute(select(query).order_by(*query.c).limit(limit)).mappings():
                found.append(Difference(table.name, side, {k: _shown(v) for k, v in row.items()}))
    return found


def _shown(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID | dt.date) else value

