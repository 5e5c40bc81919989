"""The findings scan's covering index (migration 0023) on PostgreSQL: on every monthly partition, those made
later too, and read in the order of the terminal-day windows (an index-only scan, no sort)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from tests.integration.test_partitions import pg  # noqa: F401 - the fixture
from wallet.evidence import codes, scan_sql
from wallet.partitions.ensure import ensure_partitions, existing_partitions

INDEX = "ix_ledger_entries_month_terminal_day"


def test_every_partition_made_later_has_the_covering_index(pg):  # noqa: F811
    with pg.begin() as conn:
        ensure_partitions(conn, dt.datetime(2027, 5, 15, tzinfo=dt.UTC), months_ahead=1)
        parent = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": INDEX}).scalar_one()
        assert "INCLUDE (school_id, verdict, method, student_id, meal_type)" in parent
        assert "(billing_month, terminal_id, serving_day, served_at, device_seq, id)" in parent
        assert "WHERE ((kind)::text = 'meal'::text)" in parent
        for partition in existing_partitions(conn, "ledger_entries"):
            attached = conn.execute(text(
                "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid "
                "WHERE i.inhparent = CAST(:ix AS regclass) AND x.indrelid = CAST(:p AS regclass)"),
                {"ix": INDEX, "p": partition}).scalar_one()
            assert attached == 1, partition


def test_the_terminal_statement_reads_the_index_in_its_windows_order(pg):  # noqa: F811
    p = codes.Parameters()
    with pg.begin() as conn:
        # On a test's few rows a sequential scan is cheaper; what is checked is that the index can give the
        # windows their order, so no Sort sits under them.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        plan = "\n".join(conn.execute(text("EXPLAIN " + TERMINAL), {
            "month": "2026-09", "ids": [1, 2], "voided": [5], "k": p.max_per_minute, "gap": p.min_gap_s}).scalars())
    assert "Index Only Scan" in plan and "month_terminal" in plan, plan
    assert "Sort" not in plan.replace("Sort Key", ""), plan


TERMINAL = scan_sql.TERMINAL_SQL.text
