"""Load trial: a lunchtime rush of simulated canteen terminals and parents at once, against real gunicorn and
PostgreSQL, for several minutes; then every event is checked against the ledger and `wallet verify` runs.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.load_lunch_rush                 # 5 minutes, the figures in docs/benchmarks.md
    .venv/bin/python -m tests.bench.load_lunch_rush --duration 60   # a shorter look

It drops and re-creates the database `wallet_load` (dropped again at the end unless --keep), loads the demo
world (`wallet demo-data`), registers terminals at every school, starts gunicorn (`api.wsgi:build()`, the
production entry point, rate limits on at their defaults) and then, at the same time:

- terminals serve children (about one meal every 2.5 s each by default) and upload what they served every
  few seconds; a tenth of them are offline for the first 40% of the rush and then upload their backlog in
  batches of up to 500 (the 10x burst of terminals reconnecting); now and then a terminal re-sends a batch
  it already had acknowledged (a lost answer), which must come back `replayed` and be stored once;
- parents poll their notifications about every 10 s, list their children and look at today's meals.

Before the rush, GET /healthz is measured with the same client for the baseline (what the machine, gunicorn
and the client cost without the application). Afterwards: pending events are drained, then every event a
terminal made must be in the ledger exactly once (none lost, none duplicated, none unknown) and `wallet
verify` must pass. The report (markdown) is printed and written to --report.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from tests.bench.load_common import (
    BIN,
    Recorder,
    Terminal,
    admin,
    check_ledger,
    fmt_ms,
    load_demo_world,
    machine,
    register_terminals,
    summary,
    wallet_verify,
)
from tests.live_server import LiveServer

DATABASE = "wallet_load"


def _world(database_url: str, instance: Path, students: int) -> tuple[list[str], list[str]]:
    load_demo_world(database_url, instance, students, timeout_s=900)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            schools = [r[0] for r in conn.execute(text("SELECT bin FROM schools ORDER BY bin"))]
            parents = [r[0] for r in conn.execute(text("SELECT DISTINCT parent_iin FROM guardian_links "
                                                       "ORDER BY parent_iin"))]
    finally:
        engine.dispose()
    return schools, parents


def _baseline(url: str, threads: int, seconds: float) -> dict[str, Any]:
    recorder = Recorder()
    stop = time.monotonic() + seconds

    def loop() -> None:
        session = requests.Session()
        for _ in range(1_000_000):
            if time.monotonic() >= stop:
                return
            recorder.timed(session, "GET /healthz (baseline)", "GET", f"{url}/healthz")

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return summary(recorder.samples, seconds)["GET /healthz (baseline)"]


def _terminal_loop(terminal: Terminal, url: str, recorder: Recorder, stop: float, offline_until: float,
                   rate: float, upload_every: float, replay_share: float, seed: int) -> None:
    rng = random.Random(seed)
    next_meal = time.monotonic() + rng.expovariate(rate)
    next_upload = time.monotonic() + rng.uniform(0, upload_every)
    last_batch: list[dict[str, Any]] = []
    for _ in range(10_000_000):
        now = time.monotonic()
        if now >= stop:
            return
        while next_meal <= now:
            terminal.serve(rng)
            next_meal += rng.expovariate(rate)
        if now >= next_upload and now >= offline_until and terminal.pending:
            batch = terminal.pending[:500]
            ok, wait = terminal.upload(url, recorder)
            if ok or wait == 0.0:
                last_batch = batch
                next_upload = time.monotonic() + (0 if terminal.pending else rng.uniform(0.5, 1.5) * upload_every)
            else:
                next_upload = time.monotonic() + min(wait, 10.0)
            if last_batch and rng.random() < replay_share:  # the answer was lost: the same batch again
                terminal.pending = last_batch + terminal.pending
                terminal.upload(url, recorder)
        time.sleep(max(0.0, min(next_meal, next_upload, stop) - time.monotonic()))


def _parent_loop(iins: list[str], tokens: dict[str, str], url: str, recorder: Recorder, stop: float,
                 every: float, seed: int) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    cursors: dict[str, str | None] = dict.fromkeys(iins)
    children: dict[str, list[str]] = {iin: [] for iin in iins}
    time.sleep(min(rng.uniform(0, every), max(0.0, stop - time.monotonic())))
    for cycle in range(10_000_000):
        started = time.monotonic()
        if started >= stop:
            return
        for iin in iins:
            headers = {"Authorization": f"Bearer {tokens[iin]}", "Accept-Language": rng.choice(["kk", "ru"])}
            params = {"since": cursors[iin]} if cursors[iin] else {}
            response = recorder.timed(session, "parent notifications", "GET", f"{url}/api/v1/parent/notifications",
                                      params=params, headers=headers)
            if response is not None and response.status_code == 200:
                cursors[iin] = response.json()["cursor"]
            if cycle % 5 == 0 or not children[iin]:
                response = recorder.timed(session, "parent children", "GET", f"{url}/api/v1/parent/children",
                                          headers=headers)
                if response is not None and response.status_code == 200:
                    children[iin] = [c["childId"] for c in response.json()["items"]]
            elif rng.random() < 0.3:
                child = rng.choice(children[iin])
                recorder.timed(session, "parent meals today", "GET",
                               f"{url}/api/v1/parent/children/{child}/meals/today", headers=headers)
            if time.monotonic() >= stop:
                return
        time.sleep(max(0.0, min(every - (time.monotonic() - started), stop - time.monotonic())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of rush (default 300)")
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--terminals-per-school", type=int, default=6)
    parser.add_argument("--parents", type=int, default=600)
    parser.add_argument("--parent-threads", type=int, default=12)
    parser.add_argument("--meal-rate", type=float, default=0.4, help="meals a second per terminal")
    parser.add_argument("--upload-every", type=float, default=5.0, help="seconds between a terminal's uploads")
    parser.add_argument("--parent-every", type=float, default=10.0, help="seconds between a parent's polls")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--report", type=Path, default=Path("instance/load-report.md"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
    work = Path(tempfile.mkdtemp(prefix="wallet-load-"))
    instance = work / "instance"
    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DATABASE}"')
    server = None
    try:
        print(f"world: demo data with {args.students} pupils ...", flush=True)
        schools, parent_iins = _world(database_url, instance, args.students)
        rng = random.Random(2026)
        terminals = [Terminal(f"T-load-{n:03d}", []) for n in range(len(schools) * args.terminals_per_school)]
        homes = [schools[n // args.terminals_per_school] for n in range(len(terminals))]
        register_terminals(database_url, terminals, homes)
        server = LiveServer(database_url, instance, work / "gunicorn.log", workers=args.workers).start()
        url = server.url
        recorder = Recorder()
        for terminal in terminals:
            terminal.students = terminal.roster(url, recorder)
            assert terminal.students, f"{terminal.id} has an empty roster"
        from api.auth import dev_idp
        from wallet.config import settings_from_env

        settings = settings_from_env({"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
                                      "WALLET_INSTANCE_PATH": str(instance)})
        import datetime as dt

        parents = rng.sample(parent_iins, min(args.parents, len(parent_iins)))
        tokens = {iin: dev_idp.issue_token(settings, iin, {"role": "parent"}, lifetime=dt.timedelta(hours=3))
                  for iin in parents}
        threads = len(terminals) + args.parent_threads
        print(f"baseline: GET /healthz from {args.parent_threads + 4} threads for 15 s ...", flush=True)
        baseline = _baseline(url, args.parent_threads + 4, 15.0)
        print(f"rush: {len(terminals)} terminals at {len(schools)} schools, {len(parents)} parents, "
              f"{args.duration:.0f} s ...", flush=True)
        recorder = Recorder()
        started = time.monotonic()
        stop = started + args.duration
        bursting = set(rng.sample(range(len(terminals)), max(1, len(terminals) // 10)))
        workers = [threading.Thread(target=_terminal_loop, args=(
            t, url, recorder, stop, started + 0.4 * args.duration if n in bursting else 0.0, args.meal_rate,
            args.upload_every, 0.02, n)) for n, t in enumerate(terminals)]
        share = [parents[i::args.parent_threads] for i in range(args.parent_threads)]
        workers += [threading.Thread(target=_parent_loop, args=(group, tokens, url, recorder, stop,
                                                                args.parent_every, 1000 + i))
                    for i, group in enumerate(share) if group]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        rush_seconds = time.monotonic() - started
        drain_deadline = time.monotonic() + 180
        for terminal in terminals:
            terminal.drain(url, recorder, drain_deadline)
        server.stop()
        server = None
        check = check_ledger(database_url, terminals)
        verify_code, verify_text = wallet_verify({"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
                                                  "WALLET_INSTANCE_PATH": str(instance), "PATH": str(BIN)})
        rush = [s for s in recorder.samples if s.at <= rush_seconds]
        report = _report(args, len(schools), len(terminals), len(parents), threads, baseline,
                         summary(rush, rush_seconds), rush, rush_seconds, check, verify_code, verify_text,
                         sum(len(t.made) for t in terminals))
        print(report)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report)
        return 0 if check.ok and verify_code == 0 and not any(s.status >= 500 for s in recorder.samples) else 1
    finally:
        if server is not None:
            server.kill()
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _report(args: Any, schools: int, terminals: int, parents: int, threads: int, baseline: dict[str, Any],
            kinds: dict[str, dict[str, Any]], rush: list[Any], seconds: float, check: Any, verify_code: int,
            verify_text: str, events: int) -> str:
    server_errors = sum(1 for s in rush if s.status >= 500)
    no_answer = sum(1 for s in rush if s.status == 0)
    limited = sum(1 for s in rush if s.status == 429)
    lines = [
        f"Load trial ({time.strftime('%Y-%m-%d %H:%M')}, {machine()}): {seconds:.0f} s of lunchtime rush, "
        f"{terminals} terminals at {schools} schools ({args.meal_rate} meals/s each, uploads every "
        f"~{args.upload_every:.0f} s, a tenth offline for the first 40% then flushing batches of up to 500, "
        f"2% of batches re-sent) and {parents} parents (polling every ~{args.parent_every:.0f} s), "
        f"{threads} client threads, gunicorn with {args.workers} gevent workers, PostgreSQL 15 on the same "
        "machine, rate limits on at their defaults.",
        "",
        "| requests | count | per s | p50 ms | p99 ms | statuses |",
        "|---|---:|---:|---:|---:|---|",
        f"| GET /healthz (baseline, before the rush) | {baseline['requests']} | {baseline['per_s']:.0f} | "
        f"{fmt_ms(baseline['p50'])} | {fmt_ms(baseline['p99'])} | {baseline['statuses']} |",
    ]
    for kind, row in kinds.items():
        lines.append(f"| {kind} | {row['requests']} | {row['per_s']:.1f} | {fmt_ms(row['p50'])} | "
                     f"{fmt_ms(row['p99'])} | {row['statuses']} |")
    total = len(rush)
    lines += [
        "",
        f"- {total} requests in {seconds:.0f} s ({total / seconds:.1f}/s); {events} meal events made, "
        f"{check.acknowledged} acknowledged ({check.acknowledged / seconds:.1f}/s over the rush and drain).",
        f"- 5xx: {server_errors}; no answer at all: {no_answer}; 429: {limited}.",
        f"- Ledger check: {check.rows} meal entries for these terminals, {check.distinct} distinct event ids; "
        f"lost (acknowledged, not stored): {check.missing_acknowledged}; never stored: {check.missing_made}; "
        f"duplicated: {check.duplicated}; unknown: {check.unknown}; conflict/invalid results: "
        f"{check.unexpected_results or 0}.",
        f"- `wallet verify`: exit {verify_code}, {verify_text}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
