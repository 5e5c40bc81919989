"""Reconciliation benchmark: a realistic region-month on PostgreSQL, reconciled, against a plain GROUP BY.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_reconciliation [--keep] [--reuse] [--no-export]

It drops and re-creates the database `wallet_bench_recon`, migrates it with wallet.migrate.upgrade, and fills
it with SQL `INSERT ... SELECT generate_series` (no Python per row): one region of 500 schools (one in ten
changes price on the 15th: two contracts), 50 suppliers, 200,000 pupils enrolled and eligible (one in ten on
two grounds, so the ceiling takes its day-by-day path for them), the month's calendar, two terminals per
school, and 4,000,000 ledger entries of September 2026 (every pupil on 20 serving days; 2% refused with
reasons, a few voids, late uploads, a few lost sequence numbers). The ledger's secondary indexes and unique
constraints are dropped for the load and re-created afterwards from their own definitions; then VACUUM
ANALYZE, as autovacuum would leave an append-only table.

Then, in the same run and alternating, each three times (the best counts):
  (a) baseline: SELECT school_id, meal_type, count(*) ... GROUP BY school_id, meal_type over the same rows
      (the region's schools, the month's serving days);
  (b) wallet.reconciliation.queries.reconcile for the region and month, every statement, in one
      REPEATABLE READ read-only snapshot as the API runs it; each statement is timed too. The month is
      open, so its groupings are read from the derived totals, which the load fills afterwards with
      wallet.ledger.totals.rebuild (the entries are loaded with SQL, past append_entries; timed);
  (b') the same with from_entries=True (the entries' path, which a closed month takes), for comparison;
      its result must equal (b)'s.
The ratio (b)/(a) is the figure. Finally the month's entries are exported to XLSX (xlsxwriter
constant_memory) for 1,000,000 and 4,000,000 rows, each in a fresh child process that reports its own
peak RSS (ru_maxrss), so memory can be compared across sizes; CSV is exported at 4,000,000 for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB = "wallet_bench_recon"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
MONTH = "2026-09"
SCHOOLS, SUPPLIERS, PUPILS, DAYS = 500, 50, 200_000, 20
REGION = "KZ-BENCH"


def use(database: str, pupils: int) -> None:
    """Point the benchmark at another database and size (--database, --pupils)."""
    global DB, URL, PUPILS
    DB, PUPILS = database, pupils
    URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def psql_engine(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(url, isolation_level="AUTOCOMMIT")


# --- data ----------------------------------------------------------------------------------------------

def generate_sql() -> list[str]:
    """The load, for the current PUPILS (set by --pupils)."""
    return [
        # registry
        f"INSERT INTO regions (id, code, name_kk, name_ru) VALUES (1, '{REGION}', 'Облыс', 'Область'), "
        "(2, 'KZ-OTHER', 'Басқа', 'Другая')",
        f"""INSERT INTO schools (id, bin, name_kk, name_ru, region_id, timezone)
            SELECT n, lpad(n::text, 12, '0'), 'Мектеп ' || n, 'Школа ' || n, 1, 'Asia/Almaty'
            FROM generate_series(1, {SCHOOLS}) n""",
        f"""INSERT INTO suppliers (id, bin, name)
            SELECT n, lpad((900000 + n)::text, 12, '0'), 'Поставщик ' || n FROM generate_series(1, {SUPPLIERS}) n""",
        # one contract a school; one school in ten changes price on the 15th (a second contract)
        f"""INSERT INTO contracts (id, number, school_id, supplier_id, valid_from, valid_to)
            SELECT n, 'C-' || n, n, 1 + n % {SUPPLIERS}, DATE '2026-08-01',
                   CASE WHEN n % 10 = 0 THEN DATE '2026-09-14' ELSE DATE '2027-07-31' END
            FROM generate_series(1, {SCHOOLS}) n""",
        f"""INSERT INTO contracts (id, number, school_id, supplier_id, valid_from, valid_to)
            SELECT {SCHOOLS} + n, 'C2-' || n, n, 1 + n % {SUPPLIERS}, DATE '2026-09-15', DATE '2027-07-31'
            FROM generate_series(10, {SCHOOLS}, 10) n""",
        """INSERT INTO contract_prices (contract_id, meal_type, category_code, price_tiyn)
            SELECT c.id, m.meal_type, k.code,
                   m.base * CASE WHEN c.id > 500 THEN 110 ELSE 100 END / 100
            FROM contracts c
            CROSS JOIN (VALUES ('breakfast', 45000), ('lunch', 85000)) AS m(meal_type, base)
            CROSS JOIN (VALUES ('primary_grades'), ('social_assistance')) AS k(code)""",
        f"""INSERT INTO students (id, iin, last_name, first_name)
            SELECT md5('pupil' || n)::uuid, lpad(n::text, 12, '0'), 'Фамилия', 'Имя'
            FROM generate_series(1, {PUPILS}) n""",
        f"""INSERT INTO enrollments (student_id, school_id, grade, class_name, valid_from, valid_to)
            SELECT md5('pupil' || n)::uuid, 1 + n % {SCHOOLS}, 1 + n % 4, (1 + n % 4) || 'А', DATE '2026-09-01', NULL
            FROM generate_series(1, {PUPILS}) n""",
        f"""INSERT INTO student_eligibility (student_id, category_code, valid_from, valid_to)
            SELECT md5('pupil' || n)::uuid, 'primary_grades', DATE '2026-09-01', DATE '2027-05-31'
            FROM generate_series(1, {PUPILS}) n""",
        f"""INSERT INTO student_eligibility (student_id, category_code, valid_from, valid_to)
            SELECT md5('pupil' || n)::uuid, 'social_assistance', DATE '2026-09-10', DATE '2026-12-31'
            FROM generate_series(10, {PUPILS}, 10) n""",
        f"""INSERT INTO calendar_days (school_id, day, kind)
            SELECT s, d::date, CASE WHEN extract(isodow FROM d) < 6 THEN 'serving' ELSE 'holiday' END
            FROM generate_series(1, {SCHOOLS}) s, generate_series(DATE '2026-09-01', DATE '2026-09-30', '1 day') d""",
        f"""INSERT INTO terminals (id, school_id, public_key, status, created_at)
            SELECT 'T-' || s || '-' || t, s, repeat('A', 43), 'active', TIMESTAMPTZ '2026-08-20 00:00Z'
            FROM generate_series(1, {SCHOOLS}) s, generate_series(1, 2) t""",
        # the month's serving days, numbered
        """CREATE TEMP TABLE bench_days AS
            SELECT row_number() OVER (ORDER BY d) - 1 AS k, d::date AS day
            FROM generate_series(DATE '2026-09-01', DATE '2026-09-30', '1 day') d
            WHERE extract(isodow FROM d) < 6""",
        # 4,000,000 meals: every pupil on the first 20 serving days, lunch (breakfast for one in three);
        # 2% refused (duplicate, not eligible, clock), 3% uploaded two days late.
        f"""CREATE TEMP TABLE bench_meals AS
            SELECT p AS pupil, 1 + p % {SCHOOLS} AS school_id, d.day, d.k,
                   CASE WHEN p % 3 = 0 THEN 'breakfast' ELSE 'lunch' END AS meal_type,
                   'T-' || (1 + p % {SCHOOLS}) || '-' || (1 + (p / {SCHOOLS}) % 2) AS terminal_id,
                   CASE WHEN (p * 7 + d.k * 13) % 50 = 0 THEN 'not_billable' ELSE 'billable' END AS verdict,
                   CASE (p * 7 + d.k * 13) % 50 WHEN 0 THEN
                        (ARRAY['duplicate_meal', 'not_eligible', 'device_clock_out_of_bounds'])[1 + p % 3]
                        ELSE '' END AS reasons,
                   (p + d.k) % 33 = 0 AS late
            FROM generate_series(1, {PUPILS}) p CROSS JOIN bench_days d WHERE d.k < {DAYS}""",
        """CREATE TEMP TABLE bench_numbered AS
            SELECT m.*,
                   row_number() OVER (PARTITION BY m.school_id ORDER BY m.day, m.pupil) AS position,
                   row_number() OVER (PARTITION BY m.terminal_id ORDER BY m.day, m.pupil) AS seq
            FROM bench_meals m""",
        """INSERT INTO ledger_entries (id, school_id, position, kind, event_id, terminal_id, device_seq, student_ref,
                student_id, meal_type, method, served_at, serving_day, billing_month, received_at, verdict, reasons,
                category_code, contract_id, price_tiyn, refers_to, actor, note, content_hash, payload, leaf_hash,
                chain_hash)
            SELECT row_number() OVER (), b.school_id, b.position, 'meal', md5('event' || b.pupil || '-' || b.k)::uuid,
                   b.terminal_id,
                   -- a few lost sequence numbers: terminals of school 7 skip every 1000th
                   b.seq + CASE WHEN b.school_id = 7 THEN b.seq / 1000 ELSE 0 END,
                   md5('pupil' || b.pupil)::uuid::text, md5('pupil' || b.pupil)::uuid, b.meal_type, 'qr',
                   (b.day + TIME '12:00') AT TIME ZONE 'Asia/Almaty',
                   b.day, '2026-09',
                   (b.day + TIME '12:00') AT TIME ZONE 'Asia/Almaty'
                       + CASE WHEN b.late THEN INTERVAL '2 days' ELSE INTERVAL '5 minutes' END,
                   b.verdict, b.reasons, CASE WHEN b.reasons = 'not_eligible' THEN NULL ELSE 'primary_grades' END,
                   CASE WHEN b.verdict = 'billable'
                        THEN CASE WHEN b.school_id % 10 = 0 AND b.day >= DATE '2026-09-15' THEN 500 + b.school_id
                                  ELSE b.school_id END END,
                   CASE WHEN b.verdict = 'billable'
                        THEN (CASE WHEN b.meal_type = 'lunch' THEN 85000 ELSE 45000 END)
                             * CASE WHEN b.school_id % 10 = 0 AND b.day >= DATE '2026-09-15' THEN 110 ELSE 100 END / 100
                        ELSE 0 END,
                   NULL, NULL, NULL, sha256(convert_to(b.pupil || '-' || b.k, 'UTF8')),
                   '{"billingMonth":"2026-09","category":"primary_grades","contractId":' || b.school_id
                     || ',"deviceSeq":' || b.seq || ',"eventId":"' || md5('event' || b.pupil || '-' || b.k)::uuid
                     || '","format":"wallet-entry/v1","kind":"meal","mealType":"' || b.meal_type
                     || '","method":"qr","note":null,"position":' || b.position || ',"priceTiyn":85000,'
                     || '"reasons":"' || b.reasons || '","receivedAt":"' || b.day || 'T07:05:00.000000Z",'
                     || '"refersTo":null,"schoolId":' || b.school_id || ',"servedAt":"' || b.day
                     || 'T07:00:00.000000Z","servingDay":"' || b.day || '","studentRef":"'
                     || md5('pupil' || b.pupil)::uuid || '","terminalId":"' || b.terminal_id
                     || '","verdict":"' || b.verdict || '"}',
                   sha256(convert_to('leaf' || b.pupil || '-' || b.k, 'UTF8')),
                   sha256(convert_to('chain' || b.pupil || '-' || b.k, 'UTF8'))
            FROM bench_numbered b""",
        # a void for one meal in 2,000 (appended at the end of each school's chain)
        """INSERT INTO ledger_entries (id, school_id, position, kind, student_ref, student_id, meal_type, served_at,
                serving_day, billing_month, received_at, verdict, reasons, category_code, contract_id, price_tiyn,
                refers_to, actor, note, payload, leaf_hash, chain_hash)
            SELECT (SELECT max(id) FROM ledger_entries) + row_number() OVER (),
                   e.school_id, sizes.size + row_number() OVER (PARTITION BY e.school_id ORDER BY e.id),
                   'void', e.student_ref, e.student_id, e.meal_type, e.served_at, e.serving_day, e.billing_month,
                   e.received_at + INTERVAL '1 day', e.verdict, '', e.category_code, e.contract_id, e.price_tiyn,
                   e.id, 'operator:bench', 'bench void', '{}', sha256(convert_to('void' || e.id, 'UTF8')),
                   sha256(convert_to('voidchain' || e.id, 'UTF8'))
            FROM ledger_entries e
            JOIN (SELECT school_id, count(*) AS size FROM bench_meals GROUP BY school_id) sizes
              ON sizes.school_id = e.school_id
            WHERE e.verdict = 'billable' AND e.id % 2000 = 0""",
        "SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), (SELECT max(id) FROM ledger_entries))",
    ]


def chain_heads(conn) -> None:  # type: ignore[no-untyped-def]
    """A chain head per school with the right size and a frontier of the right shape (bench data are not a
    real hash chain; nothing here verifies it)."""
    from sqlalchemy import text

    from wallet.ledger.merkle import CompactRange

    sizes = conn.execute(text("SELECT school_id, max(position) FROM ledger_entries GROUP BY school_id")).all()
    rows = []
    for school_id, size in sizes:
        frontier = CompactRange(size, [bytes([n % 256]) * 32 for n in range(size.bit_count())])
        rows.append({"s": school_id, "n": size, "c": b"\x01" * 32, "f": frontier.to_bytes()})
    conn.execute(text("INSERT INTO chain_heads (school_id, size, chain_hash, frontier, updated_at) "
                      "VALUES (:s, :n, :c, :f, now())"), rows)


def build_database(reuse: bool) -> None:
    from sqlalchemy import text

    from wallet import migrate
    from wallet.db import make_engine

    admin = psql_engine(ADMIN_URL)
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB}).first()
        if reuse and exists:
            log(f"reusing database {DB}")
            return
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB}"'))
    admin.dispose()
    engine = make_engine(URL)
    migrate.upgrade(engine)
    engine.dispose()
    engine = psql_engine(URL)
    with engine.connect() as conn:
        month_partitions(conn)
        # Load without the ledger's secondary indexes and unique constraints; re-create them from their own
        # definitions afterwards (same names, same definitions as the migrations made).
        constraints = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'ledger_entries'::regclass AND contype = 'u'")).all()
        indexes = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ledger_entries' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_entries'::regclass)"
        )).all()
        for name, _ in constraints:
            conn.execute(text(f"ALTER TABLE ledger_entries DROP CONSTRAINT {name}"))
        for name, _ in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("SET work_mem = '256MB'"))
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        started = time.perf_counter()
        cursor = conn.connection.driver_connection.cursor()  # plain SQL: no bind-parameter parsing
        for statement in generate_sql():
            t0 = time.perf_counter()
            cursor.execute(statement)
            log(f"  {time.perf_counter() - t0:6.1f} s  {' '.join(statement.split())[:90]}")
        for name, definition in constraints:
            t0 = time.perf_counter()
            conn.execute(text(f"ALTER TABLE ledger_entries ADD CONSTRAINT {name} {definition}"))
            log(f"  {time.perf_counter() - t0:6.1f} s  constraint {name}")
        for name, definition in indexes:
            t0 = time.perf_counter()
            # A partitioned table's index reads back as "ON ONLY", which would make it on the parent alone
            # (invalid, no partition indexed): made on the table, it is made on every partition again.
            conn.execute(text(definition.replace(" ON ONLY ", " ON ", 1)))
            log(f"  {time.perf_counter() - t0:6.1f} s  index {name}")
        chain_heads(conn)
        log(f"database built in {time.perf_counter() - started:.0f} s")
    engine.dispose()
    fill_totals()
    engine = psql_engine(URL)
    with engine.connect() as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()


def month_partitions(conn) -> None:  # type: ignore[no-untyped-def]
    """The migration made partitions from the current month on; the month's entries (received in it and up
    to two days after) get their own partitions, as `wallet partitions ensure` had made them in time, instead
    of all landing in the DEFAULT partition."""
    import datetime as dt

    from wallet.partitions.ensure import ensure_partitions

    year, month = (int(part) for part in MONTH.split("-"))
    report = ensure_partitions(conn, dt.datetime.now(dt.UTC), since=(year, month))
    log(f"partitions made for the benchmark's months: {len(report.created)}")


def plain_ledger() -> None:
    """ledger_entries as one plain table again, by the function migration 0020's downgrade runs, then
    VACUUM ANALYZE; a database that holds it plain already is left as it is."""
    from sqlalchemy import text

    from wallet.partitions.convert import unpartition_table
    from wallet.partitions.spec import BY_TABLE

    engine = psql_engine(URL)
    with engine.connect() as conn:
        if conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'")).scalar() == "r":
            log("ledger_entries is a plain table already")
            return
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        unpartition_table(conn, BY_TABLE["ledger_entries"])
    with engine.connect() as conn:
        conn.execute(text("VACUUM (ANALYZE) ledger_entries"))
    log(f"  {time.perf_counter() - t0:6.1f} s  ledger_entries made a plain table again")
    engine.dispose()


def upgrade_reused() -> None:
    """A reused database made before the latest migrations: migrate it, and derive the ceiling rows when
    the migration that adds them just ran (it marks every school stale)."""
    from wallet import migrate
    from wallet.ceiling_days import stale_schools
    from wallet.db import make_engine, make_session_factory

    engine = make_engine(URL)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        stale = stale_schools(session)
    if stale:
        log(f"{len(stale)} school(s) with stale ceiling rows")
        fill_ceilings(engine)
    engine.dispose()


def fill_totals() -> float:
    """The entries were loaded with SQL, past append_entries: fill the derived totals with the rebuild that
    `wallet totals rebuild` runs, and say how long it took."""
    from wallet.db import make_engine, make_session_factory, transaction
    from wallet.ledger.totals import rebuild

    engine = make_engine(URL)
    t0 = time.perf_counter()
    with transaction(make_session_factory(engine)) as session:
        days, children = rebuild(session)
    seconds = time.perf_counter() - t0
    log(f"  {seconds:6.1f} s  totals rebuilt from the entries (wallet.ledger.totals.rebuild): {days:,} school-day "
        f"rows, {children:,} child-month rows")
    fill_ceilings(engine)
    engine.dispose()
    return seconds


def fill_ceilings(engine) -> None:  # type: ignore[no-untyped-def]
    """The registry was loaded with SQL too (its triggers marked every school stale): derive the ceiling rows
    with the refresh `wallet totals rebuild` runs, and say how long it took."""
    from sqlalchemy import func, select

    from wallet.ceiling_days import refresh
    from wallet.db import make_session_factory, transaction
    from wallet.models import CeilingDayTotal

    t0 = time.perf_counter()
    with transaction(make_session_factory(engine)) as session:
        schools = refresh(session, everything=True)
        rows = session.scalar(select(func.count()).select_from(CeilingDayTotal))
    log(f"  {time.perf_counter() - t0:6.1f} s  ceiling rows derived (wallet.ceiling_days.refresh): {schools:,} "
        f"schools, {rows:,} school-day-ground rows")


# --- measurements --------------------------------------------------------------------------------------


def measure(repeats: int) -> dict[str, object]:
    from sqlalchemy import bindparam, text
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.types import Integer

    from wallet.db import make_engine, make_session_factory
    from wallet.ledger.verify import begin_snapshot
    from wallet.months import parse_month
    from wallet.principals import Principal
    from wallet.reconciliation.queries import reconcile
    from wallet.reconciliation.scope import resolve_scope

    engine = make_engine(URL)
    factory = make_session_factory(engine)
    month = parse_month(MONTH)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*), pg_size_pretty(pg_total_relation_size('ledger_entries')) "
                                 "FROM ledger_entries")).one()
        settings = dict(conn.execute(text(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'server_version')")).all())
    log(f"ledger_entries: {rows[0]:,} rows, {rows[1]}; {settings}")
    baseline_sql = text(
        "SELECT school_id, meal_type, count(*) FROM ledger_entries "
        "WHERE school_id = ANY(:ids) AND serving_day BETWEEN :first AND :last GROUP BY school_id, meal_type"
    ).bindparams(bindparam("ids", type_=ARRAY(Integer)))
    timings: dict[str, list[float]] = {"baseline": [], "reconcile": [], "reconcile_entries": []}
    statements: dict[str, list[float]] = {}
    registry_ceiling: list[float] = []
    operator = Principal("bench", "operator")
    result_summary = {}
    for _ in range(repeats):
        with factory() as session:
            begin_snapshot(session)
            scope = resolve_scope(session, operator, region=REGION)
            ids = scope.school_ids
            t0 = time.perf_counter()
            groups = session.execute(baseline_sql, {"ids": ids, "first": month.first_day,
                                                    "last": month.last_day}).all()
            timings["baseline"].append(time.perf_counter() - t0)
        with factory() as session:
            begin_snapshot(session)
            spans = timed_statements(session)
            t0 = time.perf_counter()
            scope = resolve_scope(session, operator, region=REGION)
            rec = reconcile(session, scope, month)  # an open month: read through the derived totals
            timings["reconcile"].append(time.perf_counter() - t0)
            for name, seconds in spans.items():
                statements.setdefault(name, []).append(seconds)
            spans.clear()
        with factory() as session:
            # The same reconciliation read from the entries (the path of a closed month, and of the
            # reconciliation before the derived totals), for comparison in the same run.
            begin_snapshot(session)
            spans = timed_statements(session)
            t0 = time.perf_counter()
            scope = resolve_scope(session, operator, region=REGION)
            slow = reconcile(session, scope, month, from_entries=True)
            timings["reconcile_entries"].append(time.perf_counter() - t0)
            # The entries' path computes the ceiling from the registry, as every month did before the
            # derived ceiling rows (migration 0022): the cost those rows save, in the same run.
            registry_ceiling.append(spans.get("ceiling", 0.0))
            spans.clear()
            assert (slow.lines, slow.totals, slow.days, slow.gaps, slow.children) == (
                rec.lines, rec.totals, rec.days, rec.gaps, rec.children), "totals and entries disagree"
            result_summary = {"groups": len(groups), "lines": len(rec.lines), "meals": rec.totals.meals,
                              "voids": rec.totals.voids, "refused": rec.totals.refused, "late": rec.totals.late,
                              "ceiling": rec.totals.ceiling, "days": len(rec.days), "gaps": len(rec.gaps),
                              "children": len(rec.children), "net_amount_tiyn": rec.totals.net_amount}
        log(f"  baseline {timings['baseline'][-1]:.2f} s   reconcile {timings['reconcile'][-1]:.2f} s   "
            f"reconcile from the entries {timings['reconcile_entries'][-1]:.2f} s   ceiling from the derived rows "
            f"{statements['ceiling'][-1]:.3f} s, from the registry {registry_ceiling[-1]:.3f} s")
    engine.dispose()
    best = {k: min(v) for k, v in timings.items()}
    return {"rows": rows[0], "size": rows[1], "pg": settings, "best": best,
            "median": {k: statistics.median(v) for k, v in timings.items()},
            "ratio": best["reconcile"] / best["baseline"],
            "ratio_median": statistics.median(timings["reconcile"]) / statistics.median(timings["baseline"]),
            "ratio_from_entries": best["reconcile_entries"] / best["baseline"],
            "statements": {k: min(v) for k, v in statements.items()}, "result": result_summary,
            "ceiling_from_registry": min(registry_ceiling),
            # (b) as it was with the ceiling computed from the registry: the same run's figures
            "ratio_registry_ceiling": (best["reconcile"] - min(statements["ceiling"]) + min(registry_ceiling))
            / best["baseline"]}


_SPANS: dict[str, float] = {}


def timed_statements(session) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Time each statement the reconciliation runs, named by what it computes."""
    from sqlalchemy import event

    engine = session.get_bind().engine
    if not getattr(engine, "_bench_timed", False):
        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            name = statement_name(statement)
            _SPANS[name] = _SPANS.get(name, 0.0) + time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

        engine._bench_timed = True  # type: ignore[attr-defined]
    _SPANS.clear()
    return _SPANS


def statement_name(statement: str) -> str:
    if "WITH g AS" in statement:
        return "main: the month's line aggregation (lines, totals, days, terminals, claims)"
    if "WITH children AS" in statement:
        return "flagged children, with their IINs (a filtered scan of the child-month totals)"
    if "ceiling" in statement:
        return "ceiling"
    if "billed_twice" in statement or ("HAVING" in statement and "student_id" in statement):
        return "children (double billing, flagged children only)"
    if "close_ck" in statement:
        return "adjustments"
    if "lag(" in statement:
        return "sequence gaps (flagged terminals)"
    if "FROM students" in statement:
        return "children's IINs"
    return "small lookups (scope, heads, claims, suppliers)"


# --- exports in child processes ------------------------------------------------------------------------


def export_child(rows: int, fmt: str, out: str) -> None:
    """Export the first `rows` entries' schools (8,000 entries a school) in this process; print JSON."""
    from wallet.db import make_engine, make_session_factory
    from wallet.ledger.verify import begin_snapshot
    from wallet.months import parse_month
    from wallet.principals import Principal
    from wallet.reconciliation.exports import entries_document
    from wallet.reconciliation.scope import Scope, resolve_scope
    from wallet.reconciliation.writers import write

    engine = make_engine(URL)
    rss_before = memory_kib("VmRSS")
    count = 0
    with make_session_factory(engine)() as session:
        begin_snapshot(session)
        scope = resolve_scope(session, Principal("bench", "operator"), region=REGION)
        per_school = PUPILS // SCHOOLS * DAYS
        scope = Scope(label=f"{scope.label} first {rows} entries", schools=scope.schools[: max(1, rows // per_school)])
        t0 = time.perf_counter()

        def on_row() -> None:
            nonlocal count
            count += 1

        with open(out, "wb") as handle:
            for chunk in write(entries_document(session, scope, parse_month(MONTH)), fmt, on_row=on_row):
                handle.write(chunk)
        seconds = time.perf_counter() - t0
    print(json.dumps({"rows": count, "format": fmt, "seconds": round(seconds, 1),
                      "bytes": os.path.getsize(out),
                      "peak_rss_mib": round(memory_kib("VmHWM") / 1024, 1),
                      "rss_before_export_mib": round(rss_before / 1024, 1)}))


def memory_kib(field: str) -> int:
    """VmHWM (peak) or VmRSS of this process, from /proc: ru_maxrss would carry the parent's peak over the
    fork and exec that started this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_export(rows: int, fmt: str) -> dict[str, object]:
    out = f"/tmp/bench-entries-{rows}.{fmt}"
    log(f"exporting {rows:,} entries as {fmt} in a child process ...")
    done = subprocess.run([sys.executable, "-m", "tests.bench.bench_reconciliation", "--export-child",
                           str(rows), "--format", fmt, "--out", out, "--database", DB, "--pupils", str(PUPILS)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    os.unlink(out)
    log(f"  {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DB, help="name of the benchmark database")
    parser.add_argument("--pupils", type=int, default=PUPILS,
                        help="pupils (20 serving days each; the default gives about 4,000,000 entries)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing benchmark database")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--exports-only", action="store_true", help="with --reuse: only the export runs")
    parser.add_argument("--plain-ledger", action="store_true",
                        help="with --reuse: turn ledger_entries back into a plain table first (the way back of "
                             "migration 0020), to compare the same rows unpartitioned; the database stays so")
    parser.add_argument("--export-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="xlsx", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    use(args.database, args.pupils)
    if args.export_child is not None:
        export_child(args.export_child, args.format, args.out)
        return
    build_database(args.reuse)
    if args.reuse:
        upgrade_reused()
        if args.plain_ledger:
            plain_ledger()
    figures: dict[str, object] = {}
    if not args.exports_only:
        figures = measure(args.repeats)
        log(f"ratio reconcile/baseline = {figures['ratio']:.2f} (best of {args.repeats}), "
            f"{figures['ratio_median']:.2f} (medians); from the entries {figures['ratio_from_entries']:.2f} (best); "
            f"with the ceiling from the registry (before migration 0022) {figures['ratio_registry_ceiling']:.2f}")
    exports = []
    if not args.no_export:
        exports = [run_export(1_000_000, "xlsx"), run_export(4_000_000, "xlsx"), run_export(4_000_000, "csv")]
    print(json.dumps({"measure": figures, "exports": exports}, indent=2, default=str))
    if not args.keep:
        admin = psql_engine(ADMIN_URL)
        from sqlalchemy import text

        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
