"""Make monthly partitions ahead of time (PostgreSQL): from the current month through MONTHS_AHEAD months
on, for every table in spec.ENSURED_TABLES that the database has partitioned (migrations 0020 and 0024).
Idempotent; run by those migrations and `wallet partitions ensure` (a daily timer, as the owner of the
tables: the application role cannot create tables).

Each new partition gets what a partition does not inherit: the parent's grants (a statement naming the
partition itself is checked against the partition's own privileges) and the statement-level TRUNCATE
trigger of an append-only table (PostgreSQL clones row triggers to partitions, not statement triggers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from wallet.partitions.spec import ENSURED_TABLES, MONTHS_AHEAD, Partitioned, default_name, partition_name

Month = tuple[int, int]


@dataclass
class EnsureReport:
    created: list[str] = field(default_factory=list)
    # Months that could not be made because rows of that month already sit in the DEFAULT partition.
    blocked: list[str] = field(default_factory=list)


def month_of(moment: dt.datetime | dt.date) -> Month:
    return moment.year, moment.month


def next_month(month: Month) -> Month:
    year, m = month
    return (year + 1, 1) if m == 12 else (year, m + 1)


def months(first: Month, last: Month) -> Iterator[Month]:
    current = first
    while current <= last:
        yield current
        current = next_month(current)


def bounds(month: Month) -> tuple[str, str]:
    """The range of a monthly partition, in UTC."""
    (y, m), (ny, nm) = month, next_month(month)
    return f"{y:04d}-{m:02d}-01 00:00:00+00", f"{ny:04d}-{nm:02d}-01 00:00:00+00"


def plus_months(month: Month, count: int) -> Month:
    for _ in range(count):
        month = next_month(month)
    return month


def existing_partitions(conn: Connection, table: str) -> set[str]:
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table})
    return {name for (name,) in rows}


def partitioned(conn: Connection, tables: tuple[Partitioned, ...]) -> tuple[Partitioned, ...]:
    """The tables of `tables` the database holds partitioned: a database migrated to 0020 but not yet to
    0024 has plain evidence tables, which `ensure` passes over instead of failing."""
    names = set(conn.execute(text(
        "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relnamespace = CAST(current_schema() AS regnamespace)")).scalars())
    return tuple(spec for spec in tables if spec.table in names)


def ensure_partitions(
    conn: Connection, now: dt.datetime, *, months_ahead: int = MONTHS_AHEAD, since: Month | None = None,
    tables: tuple[Partitioned, ...] = ENSURED_TABLES,
) -> EnsureReport:
    """Partitions for every month from `since` (default: this month) through `months_ahead` months on."""
    report = EnsureReport()
    first = since or month_of(now)
    last = plus_months(month_of(now), months_ahead)
    for spec in partitioned(conn, tables):
        have = existing_partitions(conn, spec.table)
        if default_name(spec.table) not in have:
            conn.execute(text(f"CREATE TABLE {default_name(spec.table)} PARTITION OF {spec.table} DEFAULT"))
            prepare_partition(conn, spec, default_name(spec.table))
            report.created.append(default_name(spec.table))
        for month in months(first, last):
            name = partition_name(spec.table, *month)
            if name in have:
                continue
            low, high = bounds(month)
            if _default_holds(conn, spec, low, high):
                report.blocked.append(name)
                continue
            conn.execute(text(
                f"CREATE TABLE {name} PARTITION OF {spec.table} FOR VALUES FROM ('{low}') TO ('{high}')"))
            prepare_partition(conn, spec, name)
            report.created.append(name)
    return report


def _default_holds(conn: Connection, spec: Partitioned, low: str, high: str) -> bool:
    # PostgreSQL refuses a new partition whose range holds rows of the DEFAULT partition; the rows stay
    # where they are (append-only tables cannot move them) and the month is reported instead.
    return conn.execute(text(
        f"SELECT EXISTS (SELECT 1 FROM {default_name(spec.table)} "
        f"WHERE {spec.column} >= CAST(:low AS timestamptz) AND {spec.column} < CAST(:high AS timestamptz))"),
        {"low": low, "high": high}).scalar_one()


def prepare_partition(conn: Connection, spec: Partitioned, name: str) -> None:
    """Give one partition its parent's grants and, for an append-only table, the TRUNCATE refusal."""
    grants = conn.execute(text(
        "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner AND a.grantee <> 0"), {"t": spec.table})
    for grantee, privilege in grants:
        conn.execute(text(f"GRANT {privilege} ON {name} TO {grantee}"))
    if spec.refuse_function:
        conn.execute(text(
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {spec.refuse_function}()"))


def months_ready(conn: Connection, now: dt.datetime, tables: tuple[Partitioned, ...] = ENSURED_TABLES) -> int:
    """How many whole months after the current one every partitioned table has partitions for (-1: not even
    the current month); what `wallet partitions ensure --check` and an alert look at."""
    ahead = None
    for spec in partitioned(conn, tables):
        have = existing_partitions(conn, spec.table)
        count, month = -1, month_of(now)
        while partition_name(spec.table, *month) in have:
            count, month = count + 1, next_month(month)
        ahead = count if ahead is None else min(ahead, count)
    return -1 if ahead is None else ahead
