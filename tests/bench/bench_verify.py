"""`wallet verify` benchmark: real school chains, verified, against streaming the same rows and hashing them.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_verify [--reuse] [--keep] [--schools 40] [--per-school 26000]

It drops and re-creates the database `wallet_bench_verify` (kept with --keep, reused with --reuse), migrates
it with wallet.migrate.upgrade and builds real chains: the first school's entries go through
`wallet.ledger.append.append_entries` in batches of 100, as ingest appends them; every other school's are
made by the same functions in bulk (`entry_payload`, `flat_canonical_bytes`, `leaf_hash`,
`next_chain_hash`, `CompactRange`) and written with COPY, with their chain heads; then every school gets a
signed checkpoint (`make_checkpoints`). The entries are meals of ingest's shapes: billable and refused, by
roster, card and dynamic QR (with voucher and token ids), a void now and then.

Then, alternating in the same run (`--rounds`, the best of each counts), with 1 and with N processes (one
school at a time each, `--processes`):

  (a) baseline: stream the same rows out of PostgreSQL (psycopg server-side cursor, large fetches) in
      position order, school by school, and take SHA-256 of each payload (RFC 6962 leaf) and the chain hash;
  (b) `wallet.ledger.verify.iter_verify`, what `wallet verify` runs, over every school.

The figure is (b)'s entries/s over (a)'s. `--profile` adds the shares of one school's verification: the
read (rows as plain text), the decoding into Python types, the re-derivation of the canonical bytes from
the columns and the hashing, each timed alone, and a cProfile of iter_verify on that school.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import multiprocessing as mp
import os
import pstats
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB = "wallet_bench_verify"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
KEY_FILE = Path("/tmp") / f"{DB}-signing-key.pem"
T0 = dt.datetime(2026, 9, 1, 3, 0, tzinfo=dt.UTC)
COLUMNS = ("id", "school_id", "position", "kind", "event_id", "terminal_id", "device_seq", "student_ref",
           "student_id", "meal_type", "method", "served_at", "serving_day", "billing_month", "received_at",
           "verdict", "reasons", "category_code", "contract_id", "price_tiyn", "refers_to", "actor", "note",
           "voucher_id", "qr_token_id", "content_hash", "payload", "leaf_hash", "chain_hash")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- data ------------------------------------------------------------------------------------------


def entry_fields(school_id: int, i: int) -> dict[str, Any]:
    """The columns of the i-th entry of a school (1-based), in ingest's shapes."""
    day = (T0 + dt.timedelta(days=(i // 300) % 150)).date()
    served = dt.datetime.combine(day, dt.time(6, 0), dt.UTC) + dt.timedelta(seconds=7 * (i % 300), microseconds=i)
    pupil = uuid.UUID(int=school_id << 64 | (i % 300))
    method = ("qr", "card", "roster")[i % 3]
    refused = i % 50 == 0
    void = i % 997 == 0 and i > 1
    return {
        "kind": "void" if void else "meal", "event_id": None if void else uuid.UUID(int=school_id << 96 | i),
        "terminal_id": None if void else f"T-{school_id}-{i % 2}", "device_seq": None if void else i,
        "student_ref": str(pupil), "student_id": None if refused else pupil,
        "meal_type": "lunch" if i % 3 else "breakfast", "method": None if void else method,
        "served_at": served, "serving_day": day, "billing_month": f"{day:%Y-%m}",
        "received_at": served + dt.timedelta(seconds=4, microseconds=321),
        "verdict": "not_billable" if refused else "billable",
        "reasons": "second_meal_same_type" if refused else "", "category_code": None if refused else "primary_grades",
        "contract_id": None if refused else school_id, "price_tiyn": 0 if refused else 85000,
        "refers_to": None, "actor": "operator:bench" if void else None, "note": "повтор \"qr\"" if void else None,
        "voucher_id": uuid.UUID(int=1 << 120 | i) if method == "qr" and not void else None,
        "qr_token_id": uuid.UUID(int=2 << 120 | i) if method == "qr" and not void else None,
        "content_hash": None if void else hashlib.sha256(b"%d-%d" % (school_id, i)).digest(),
    }


def bulk_school(cursor: Any, school_id: int, first_id: int, count: int) -> None:
    """One school's chain made by append_entries' own functions, written with COPY, and its chain head."""
    from wallet.ledger.append import entry_payload
    from wallet.ledger.canonical import flat_canonical_bytes
    from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
    from wallet.ledger.merkle import CompactRange, leaf_hash

    chain, frontier = GENESIS_CHAIN_HASH, CompactRange()
    with cursor.copy(f"COPY ledger_entries ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for position in range(1, count + 1):
            entry = SimpleNamespace(id=first_id + position, school_id=school_id, position=position,
                                    **entry_fields(school_id, position))
            if entry.kind == "void":
                entry.refers_to = first_id + position - 1
            payload = flat_canonical_bytes(entry_payload(entry))  # type: ignore[arg-type]
            leaf = leaf_hash(payload)
            chain = next_chain_hash(chain, leaf)
            frontier.append(leaf)
            values = vars(entry) | {"payload": payload.decode(), "leaf_hash": leaf, "chain_hash": chain}
            copy.write_row([values[c] for c in COLUMNS])
    cursor.execute("INSERT INTO chain_heads (school_id, size, chain_hash, frontier, updated_at) "
                   "VALUES (%s, %s, %s, %s, now())", (school_id, count, chain, frontier.to_bytes()))


def appended_school(school_id: int, count: int) -> None:
    """The first school, through append_entries in batches of 100 (ORM objects, as ingest makes them)."""
    from wallet.db import make_engine, make_session_factory, transaction
    from wallet.ledger.append import append_entries, lock_chain_head
    from wallet.models import LedgerEntry

    engine = make_engine(URL)
    factory = make_session_factory(engine)
    position = 0
    while position < count:
        with transaction(factory) as session:
            head = lock_chain_head(session, school_id)
            batch = []
            for i in range(position + 1, min(count, position + 100) + 1):
                fields = entry_fields(school_id, i) | {"kind": "meal", "refers_to": None}
                if fields["event_id"] is None:
                    fields |= {"event_id": uuid.UUID(int=school_id << 96 | i), "terminal_id": "T-1-0",
                               "device_seq": i, "method": "roster", "actor": None, "note": None}
                batch.append(LedgerEntry(**fields))
            append_entries(session, head, batch, zone="Asia/Almaty")
            position += len(batch)
    engine.dispose()


def build_database(reuse: bool, schools: int, per_school: int, appended: int) -> None:
    import psycopg

    from wallet import migrate
    from wallet.db import make_engine, make_session_factory
    from wallet.ledger.checkpoints import make_checkpoints
    from wallet.ledger.signing import SigningKey

    with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if reuse and exists and KEY_FILE.exists():
            log(f"reusing database {DB}")
            return
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB}"')
    started = time.perf_counter()
    engine = make_engine(URL)
    migrate.upgrade(engine)
    engine.dispose()
    with psycopg.connect(libpq(URL), autocommit=True) as conn:
        conn.execute("INSERT INTO regions (id, code, name_kk, name_ru) VALUES (1, 'KZ-BENCH', 'Облыс', 'Область')")
        conn.execute("INSERT INTO schools (id, bin, name_kk, name_ru, region_id, timezone) "
                     "SELECT n, lpad(n::text, 12, '0'), 'Мектеп', 'Школа', 1, 'Asia/Almaty' "
                     "FROM generate_series(1, %s) n", (schools,))
    appended_school(1, appended)
    log(f"  school 1: {appended:,} entries through append_entries in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(libpq(URL)) as conn, conn.cursor() as cursor:
        first_id = appended + 1_000
        for school_id in range(2, schools + 1):
            bulk_school(cursor, school_id, first_id, per_school)
            first_id += per_school + 10
            conn.commit()
        cursor.execute("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), max(id)) FROM ledger_entries")
        conn.commit()
    log(f"  {schools - 1} schools of {per_school:,} entries made in bulk; {time.perf_counter() - started:.0f} s")
    key = SigningKey.generate()
    KEY_FILE.write_bytes(key.to_pem())
    engine = make_engine(URL)
    make_checkpoints(make_session_factory(engine), key, reason="bench")
    engine.dispose()
    with psycopg.connect(libpq(URL), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"database built in {time.perf_counter() - started:.0f} s")


# --- measurements ----------------------------------------------------------------------------------


def school_ids() -> list[int]:
    import psycopg

    with psycopg.connect(libpq(URL)) as conn:
        return [r[0] for r in conn.execute("SELECT school_id FROM chain_heads ORDER BY school_id")]


def baseline_schools(ids: list[int]) -> int:
    """(a) for some schools: stream payload, leaf and chain hashes in position order; leaf and chain hash."""
    import psycopg

    sha256, entries = hashlib.sha256, 0
    with psycopg.connect(libpq(URL)) as conn:
        for school_id in ids:
            with conn.transaction(), conn.cursor(name="bench") as cursor:
                cursor.itersize = 10_000
                cursor.execute("SELECT payload FROM ledger_entries WHERE school_id = %s ORDER BY position",
                               (school_id,))
                chain = bytes(32)
                while rows := cursor.fetchmany(10_000):
                    for (payload,) in rows:
                        chain = sha256(chain + sha256(b"\x00" + payload.encode()).digest()).digest()
                    entries += len(rows)
    return entries


def verify_schools(ids: list[int], jobs: int = 1) -> int:
    """(b): iter_verify over every school, as `wallet verify --jobs N` runs it; every chain must verify."""
    from wallet.db import make_engine, make_session_factory
    from wallet.ledger.signing import SigningKey
    from wallet.ledger.verify import iter_verify

    key = SigningKey.from_pem(KEY_FILE.read_bytes())
    engine = make_engine(URL)
    entries = 0
    for report in iter_verify(make_session_factory(engine), {key.key_id: key.public_key_raw}, jobs=jobs):
        assert report.ok, report.describe()
        if report.school_id in ids:
            entries += report.size
    engine.dispose()
    return entries


def verify_one(school_id: int) -> None:
    from wallet.db import make_engine, make_session_factory
    from wallet.ledger.signing import SigningKey
    from wallet.ledger.verify import iter_verify

    key = SigningKey.from_pem(KEY_FILE.read_bytes())
    engine = make_engine(URL)
    reports = list(iter_verify(make_session_factory(engine), {key.key_id: key.public_key_raw}, f"{school_id:012d}"))
    assert all(r.ok for r in reports)
    engine.dispose()


def run_parallel(job: Any, ids: list[int], processes: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    if job is verify_schools:
        return verify_schools(ids, processes), time.perf_counter() - t0
    if processes == 1:
        return job(ids), time.perf_counter() - t0
    parts = [ids[n::processes] for n in range(processes)]
    with mp.get_context("fork").Pool(processes) as pool:
        entries = sum(pool.map(job, parts))
    return entries, time.perf_counter() - t0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(rounds: int, processes: list[int]) -> None:
    ids = school_ids()
    for n in processes:
        best = {"baseline": 0.0, "verify": 0.0}
        for r in range(rounds):
            for name, job in (("baseline", baseline_schools), ("verify", verify_schools)):
                entries, seconds = run_parallel(job, ids, n)
                rate = entries / seconds
                best[name] = max(best[name], rate)
                log(f"  {n} process(es) round {r + 1} {name:8s} {entries:,} entries in {seconds:6.2f} s = "
                    f"{rate:10,.0f}/s   (load {load()})")
        log(f"{n} process(es): best baseline {best['baseline']:,.0f}/s, verify {best['verify']:,.0f}/s, "
            f"ratio {best['verify'] / best['baseline']:.3f}")


def shares(school_id: int) -> None:
    """One school's verification taken apart: read, decode, re-derive, hash; then cProfile of iter_verify."""
    import psycopg
    from psycopg.types.string import TextLoader

    from wallet.ledger.append import entry_payload
    from wallet.ledger.canonical import flat_canonical_bytes
    from wallet.ledger.chain import next_chain_hash
    from wallet.ledger.merkle import CompactRange, leaf_hash

    sql = f"SELECT {', '.join(COLUMNS)} FROM ledger_entries WHERE school_id = %s ORDER BY position"

    def fetch(raw: bool) -> tuple[list[Any], float]:
        with psycopg.connect(libpq(URL)) as conn:
            if raw:  # every column as the text PostgreSQL sends: no conversion into Python types
                for oid in ("int8", "int4", "uuid", "timestamptz", "date", "bytea", "varchar", "text"):
                    conn.adapters.register_loader(oid, TextLoader)
            t0 = time.perf_counter()
            with conn.transaction(), conn.cursor(name="bench", row_factory=psycopg.rows.namedtuple_row) as cur:
                cur.execute(sql, (school_id,))
                rows = []
                while batch := cur.fetchmany(10_000):
                    rows.extend(batch)
            return rows, time.perf_counter() - t0

    raw_rows, read = fetch(True)
    rows, typed = fetch(False)
    t0 = time.perf_counter()
    derived = [flat_canonical_bytes(entry_payload(row)) for row in rows]  # type: ignore[arg-type]
    derive = time.perf_counter() - t0
    t0 = time.perf_counter()
    chain, compact = bytes(32), CompactRange()
    for row in rows:
        leaf = leaf_hash(row.payload.encode())
        chain = next_chain_hash(chain, leaf)
        compact.append(leaf)
    hashing = time.perf_counter() - t0
    assert all(d == r.payload.encode() for d, r in zip(derived, rows, strict=True))
    total = typed + derive + hashing
    log(f"shares of the Python verification before (of school {school_id}, {len(rows):,} entries, "
        f"{total:.2f} s in all, load {load()}): "
        f"read {read / total:.0%} ({read:.2f} s), decode {(typed - read) / total:.0%} ({typed - read:.2f} s), "
        f"re-derivation {derive / total:.0%} ({derive:.2f} s), hashing {hashing / total:.0%} ({hashing:.2f} s)")
    # The server's side: verify's statement (the payload rebuilt from the columns) against the bare read.
    from wallet.ledger.verify_stream import _PG_STATEMENT

    with psycopg.connect(libpq(URL)) as conn:
        server = {}
        for name, statement in (("bare read", "SELECT payload FROM ledger_entries WHERE school_id = %s "
                                               "ORDER BY position"), ("verify's statement", _PG_STATEMENT)):
            plans = [conn.execute("EXPLAIN (ANALYZE, TIMING OFF) " + statement, (school_id,)).fetchall()
                     for _ in range(3)]
            server[name] = min(float(p[-1][0].split()[2]) for p in plans)
    log("server time per entry (best of 3, EXPLAIN ANALYZE): " + ", ".join(
        f"{name} {ms * 1000 / len(rows):.2f} us" for name, ms in server.items()))
    profile = cProfile.Profile()
    profile.enable()
    verify_one(school_id)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue())
    del raw_rows


def main() -> None:
    global DB, URL, KEY_FILE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DB)
    parser.add_argument("--schools", type=int, default=40)
    parser.add_argument("--per-school", type=int, default=26_000)
    parser.add_argument("--appended", type=int, default=5_000, help="entries of school 1, through append_entries")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", default=f"1,{os.cpu_count()}", help="comma-separated process counts")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing benchmark database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile", action="store_true", help="also the shares and a cProfile of one school")
    args = parser.parse_args()
    DB = args.database
    URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
    KEY_FILE = Path("/tmp") / f"{DB}-signing-key.pem"
    build_database(args.reuse, args.schools, args.per_school, args.appended)
    if args.profile:
        shares(2)
    measure(args.rounds, [int(n) for n in args.processes.split(",")])
    if not args.keep:
        import psycopg

        with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
