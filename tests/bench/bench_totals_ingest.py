"""What the derived ledger totals add to an ingest batch: record_batch in-process with and without them.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_totals_ingest [--rounds 8] [--batches 25]

It makes the database `wallet_bench_totals_ingest` with the ingest benchmark's world (demo pupils imported,
two terminals a school; see tests/bench/bench_ingest.py), then records batches of 100 events in-process,
one session per batch, alternating rounds "with totals" (as shipped) and "without" (the call that folds a
batch into the totals replaced by a no-op), so both see the same database, the same growth and the same
noise of the shared machine. Per batch it reports the wall time and the CPU of this process (the
application) and of the database backends, median and best over the rounds. The database is dropped at the
end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from tests.bench import bench_ingest as ingest

DB_NAME = "wallet_bench_totals_ingest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=ingest.DEFAULT_ADMIN_URL)
    parser.add_argument("--students", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=8, help="rounds of each kind, alternating")
    parser.add_argument("--batches", type=int, default=25, help="batches of 100 events a round")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    import wallet.ledger.append as append
    from wallet import migrate
    from wallet.db import make_engine, make_session_factory

    db_url = ingest.create_database(args.admin_url, DB_NAME)
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        ingest.log(f"importing the demo world ({args.students} pupils)")
        ingest.load_world(factory, args.students)
        terminals = ingest.register_terminals(factory, 2)
        ingest.analyze(db_url)
        ingest.record_batches(factory, ingest.make_work(terminals, 20))  # warm-up
        shipped = append.add_entries
        per_batch: dict[str, dict[str, list[float]]] = {
            kind: {"wall_ms": [], "app_cpu_ms": [], "db_cpu_ms": []} for kind in ("with", "without")}
        for n in range(2 * args.rounds):
            kind = ("with", "without")[n % 2] if (n // 2) % 2 == 0 else ("without", "with")[n % 2]
            append.add_entries = shipped if kind == "with" else (lambda *a, **k: None)  # type: ignore[assignment]
            work = ingest.make_work(terminals, args.batches)
            meter = ingest.CpuMeter(db_url).start()
            t0 = time.perf_counter()
            ingest.record_batches(factory, work)
            wall = time.perf_counter() - t0
            cpu = meter.stop()
            figures = per_batch[kind]
            figures["wall_ms"].append(wall / args.batches * 1000)
            figures["app_cpu_ms"].append(cpu["cpu_app_s"] / args.batches * 1000)
            figures["db_cpu_ms"].append(cpu["cpu_db_s"] / args.batches * 1000)
            ingest.log(f"  {kind:7s} wall {figures['wall_ms'][-1]:6.1f} ms  app cpu {figures['app_cpu_ms'][-1]:6.1f} "
                       f"ms  db cpu {figures['db_cpu_ms'][-1]:6.1f} ms  a batch; other load {cpu['cpu_other_s']:.1f} s")
        append.add_entries = shipped
        summary = {kind: {name: {"median": round(statistics.median(v), 2), "best": round(min(v), 2)}
                          for name, v in figures.items()} for kind, figures in per_batch.items()}
        for name in ("wall_ms", "app_cpu_ms", "db_cpu_ms"):
            summary.setdefault("added", {})[name] = {
                k: round(summary["with"][name][k] - summary["without"][name][k], 2) for k in ("median", "best")}
        print(json.dumps(summary, indent=2))
    finally:
        engine.dispose()
        if not args.keep:
            ingest.drop_database(args.admin_url, DB_NAME)


if __name__ == "__main__":
    main()
