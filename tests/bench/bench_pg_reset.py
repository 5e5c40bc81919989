"""How long the suite's PostgreSQL database takes to empty between tests: the former TRUNCATE ... RESTART
IDENTITY CASCADE of every table (the baseline) against PostgresTestDatabase.reset (tests/conftest.py), each
after a test's world (tests/factories.make_world) was written, alternating, in one process.

    .venv/bin/python -m tests.bench.bench_pg_reset [--rounds 6]

It makes and drops the database `wallet_bench_pg_reset` (PostgreSQL at 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import text

from tests.conftest import PostgresTestDatabase
from tests.factories import make_world
from wallet.db import make_engine, make_session_factory
from wallet.models import Base

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def truncate_every_table(database: PostgresTestDatabase) -> None:
    """The emptying the suite used before: every table truncated, the seeds put back."""
    engine = make_engine(database.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(database.tables)} RESTART IDENTITY CASCADE"))
            for table, rows in database.seed.items():
                conn.execute(Base.metadata.tables[table].insert(), rows)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    rounds = parser.parse_args().rounds
    database = PostgresTestDatabase(ADMIN_URL, "wallet_bench_pg_reset")
    times: dict[str, list[float]] = {"truncate (baseline)": [], "reset": []}
    try:
        for _ in range(rounds):
            for name, empty in (("truncate (baseline)", lambda: truncate_every_table(database)),
                                ("reset", database.reset)):
                engine = make_engine(database.url)
                with make_session_factory(engine)() as session:
                    make_world(session)
                engine.dispose()
                started = time.perf_counter()
                empty()
                times[name].append(time.perf_counter() - started)
    finally:
        database.drop()
    base = statistics.median(times["truncate (baseline)"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:20} median {median:.3f} s  ratio {median / base:.2f}  "
              f"[{', '.join(f'{v:.3f}' for v in sorted(values))}]")


if __name__ == "__main__":
    main()
