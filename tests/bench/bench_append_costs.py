"""What two pieces of the evidence work cost every appended meal, measured in-process (record_batch, one
thread, batches of 100), CPU per event, in one run:

  - the findings scan's covering index (migration 0023, ix_ledger_entries_month_terminal_day): rounds with
    it and with it dropped (DROP INDEX on the partitioned parent drops every partition's; made again after);
  - the on-append rule (wallet.evidence.on_append.check_appended: one attendance query per batch with
    billable meals): rounds with it and with it replaced by a no-op.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_append_costs [--students 800] [--batches 60] [--rounds 2]

It builds bench_ingest's world (the demo world imported, two terminals a school) in its own database, then
runs the three variants (all on, no scan index, no on-append rule) in turn, `--rounds` times, and prints
the application's and PostgreSQL's CPU ms per 100 events of each round (bench_ingest.CpuMeter, with the
other load on the machine meanwhile) and the median of each variant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
from collections.abc import Iterator
from typing import Any

from tests.bench import bench_ingest as bi

DB = "wallet_bench_append_costs"
INDEX = "ix_ledger_entries_month_terminal_day"


@contextlib.contextmanager
def without_index(engine: Any) -> Iterator[None]:
    from sqlalchemy import text

    with engine.begin() as conn:
        definition = conn.execute(text("SELECT pg_get_indexdef(CAST(:n AS regclass))"), {"n": INDEX}).scalar_one()
        conn.execute(text(f"DROP INDEX {INDEX}"))
    try:
        yield
    finally:
        with engine.begin() as conn:  # on the parent, not ONLY: every partition gets it again
            conn.execute(text(definition.replace(" ON ONLY ", " ON ", 1)))


@contextlib.contextmanager
def without_on_append() -> Iterator[None]:
    from wallet.ingest import service

    kept = service.check_appended
    service.check_appended = lambda *_a, **_k: None
    try:
        yield
    finally:
        service.check_appended = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=bi.DEFAULT_ADMIN_URL)
    parser.add_argument("--students", type=int, default=800)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from wallet import migrate
    from wallet.db import make_engine, make_session_factory

    url = bi.create_database(args.admin_url, DB)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        bi.load_world(factory, args.students)
        terminals = bi.register_terminals(factory, 2)
        bi.analyze(url)
        bi.record_batches(factory, bi.make_work(terminals, 10))  # warm-up
        variants = {"all on": contextlib.nullcontext, "no scan index": lambda: without_index(engine),
                    "no on-append rule": without_on_append}
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for n in range(args.rounds):
            for name, context in variants.items():
                with context():
                    r = bi.metered(url, lambda: bi.bench_in_process(factory, terminals, args.batches, threads=1))
                per100 = 100 / r["events"] * 1000
                figures = {"app_ms_per_100": round(r["cpu_app_s"] * per100, 1),
                           "db_ms_per_100": round(r["cpu_db_s"] * per100, 1),
                           "events_per_s": round(r["events_per_s"]),
                           "other_load_pct": round(100 * r["cpu_other_s"] / max(r["cpu_machine_s"], 1e-9))}
                rounds[name].append(figures)
                bi.log(f"round {n + 1} {name}: {figures} load {bi.loadavg()}")
        summary = {name: {k: statistics.median(f[k] for f in figures) for k in figures[0]}
                   for name, figures in rounds.items()}
        print(json.dumps({"rounds": rounds, "median": summary}, indent=2))
    finally:
        engine.dispose()
        bi.drop_database(args.admin_url, DB)


if __name__ == "__main__":
    main()
