"""Findings scan benchmark: the month's evidence scan over a region, against one GROUP BY over the same rows.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_findings_scan [--pupils 200000] [--reuse] [--keep]

It builds the reconciliation benchmark's region-month (tests/bench/bench_reconciliation.py: 500 schools,
`--pupils` pupils x 20 serving days of ledger entries, loaded with SQL) in its own database, then alternates,
each three times (the best counts):
  (a) baseline: SELECT school_id, serving_day, count(*) FROM ledger_entries WHERE billing_month = M AND
      kind = 'meal' GROUP BY school_id, serving_day (the rows the scan reads);
  (b) wallet.evidence.scan.candidates for the region and month: its reads and every rule in memory, nothing
      recorded (the first full scan, which records, is timed once beforehand; a second scan records nothing).
The ratio (b)/(a) is the figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from tests.bench import bench_reconciliation as recon


def measure(repeats: int) -> dict[str, object]:
    from sqlalchemy import text

    from wallet.db import make_engine, make_session_factory
    from wallet.evidence.codes import Parameters
    from wallet.evidence.scan import candidates, scan
    from wallet.months import parse_month
    from wallet.principals import Principal
    from wallet.reconciliation.scope import resolve_scope

    engine = make_engine(recon.URL)
    factory = make_session_factory(engine)
    month = parse_month(recon.MONTH)
    operator = Principal(subject="bench", role="operator")
    with factory() as session:
        rows = session.scalar(text("SELECT count(*) FROM ledger_entries WHERE billing_month = :m AND kind = 'meal'"),
                              {"m": recon.MONTH})
        scope = resolve_scope(session, operator, region=recon.REGION)
        t0 = time.perf_counter()
        first = scan(session, scope, month, now=dt.datetime.now(dt.UTC))
        session.commit()
        first_s = time.perf_counter() - t0
        again = scan(session, scope, month, now=dt.datetime.now(dt.UTC))
        session.commit()
    baseline, scans = [], []
    for _ in range(repeats):
        with engine.connect() as conn:
            t0 = time.perf_counter()
            conn.execute(text("SELECT school_id, serving_day, count(*) FROM ledger_entries WHERE billing_month = :m "
                              "AND kind = 'meal' GROUP BY school_id, serving_day"), {"m": recon.MONTH}).all()
            baseline.append(time.perf_counter() - t0)
        with factory() as session:
            t0 = time.perf_counter()
            candidates(session, scope.school_ids, month, Parameters())
            scans.append(time.perf_counter() - t0)
    engine.dispose()
    return {"meal_rows": rows, "first_scan_s": round(first_s, 2), "first_new": first.new_total,
            "second_new": again.new_total, "group_by_s": round(min(baseline), 3), "scan_s": round(min(scans), 3),
            "ratio": round(min(scans) / min(baseline), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="wallet_bench_findings")
    parser.add_argument("--pupils", type=int, default=recon.PUPILS)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    recon.use(args.database, args.pupils)
    recon.build_database(args.reuse)
    result = measure(args.repeats)
    print(json.dumps(result, indent=2))
    if not args.keep:
        from sqlalchemy import text
        admin = recon.psql_engine(recon.ADMIN_URL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
