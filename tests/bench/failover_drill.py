"""Failover drill: the primary killed during a lunch rush, its synchronous standby promoted, the service
reconnecting through a multi-host connection string. On demand (the CI-sized version is
tests/integration/test_failover.py):

    .venv/bin/python -m tests.bench.failover_drill                       # about a minute and a half
    .venv/bin/python -m tests.bench.failover_drill --terminals 24 --rush-seconds 40

It never touches the shared PostgreSQL: a primary of its own (initdb, fsync on) with a synchronous standby
(pg_basebackup, `synchronous_standby_names`: an acknowledged commit is flushed on both), each in a
temporary folder on a free port (tests/pg_servers.py; as the `postgres` user when run as root). A demo world
is loaded, terminals registered, gunicorn started (3 workers) with

    WALLET_DATABASE_URL=postgresql+psycopg://postgres@/wallet?host=PRIMARY&host=STANDBY&target_session_attrs=read-write

Simulated terminals post meals the whole time (a fresh token per request, the same event ids on every retry,
Retry-After honoured). Mid-rush the primary's postmaster and backends get SIGKILL; after --detect-seconds
(what a failover manager such as Patroni takes to decide) the standby is promoted (`pg_ctl promote`). The
report gives the time until the terminals' uploads succeed again, what they got meanwhile (503 with
Retry-After; a 500 is a failure), and then checks on the promoted server that every acknowledged event is
in the ledger exactly once and that `wallet verify` passes.
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

from tests import pg_servers
from tests.bench.faults_drill import _window
from tests.bench.load_common import (
    BIN,
    Recorder,
    Terminal,
    check_ledger,
    end_rush,
    fmt_ms,
    load_demo_world,
    machine,
    publish_report,
    register_terminals,
    wallet_verify,
)
from tests.live_server import LiveServer


def _terminal_loop(terminal: Terminal, url: str, recorder: Recorder, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    next_upload = time.monotonic() + rng.uniform(0, 1)
    while not stop.is_set():
        terminal.serve(rng)
        if time.monotonic() >= next_upload:
            ok, wait = terminal.upload(url, recorder)
            next_upload = time.monotonic() + (rng.uniform(0.5, 1.5) if ok or wait == 0.0 else min(wait, 10.0))
        stop.wait(rng.uniform(0.2, 0.4))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=12)
    parser.add_argument("--rush-seconds", type=float, default=20.0, help="rush before the kill, and after it")
    parser.add_argument("--detect-seconds", type=float, default=2.0, help="from the kill to the promotion")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--report", type=Path, default=Path("instance/failover-report.md"))
    args = parser.parse_args()
    why = pg_servers.available()
    if why:
        raise SystemExit(f"failover_drill: {why}")

    work = Path(tempfile.mkdtemp(prefix="wallet-failover-"))
    primary = pg_servers.make_primary(sync_standby="standby1", fsync=True)
    standby: pg_servers.Server | None = None
    server: LiveServer | None = None
    stop = threading.Event()
    try:
        standby = pg_servers.make_standby(primary, "standby1")
        pg_servers.wait_streaming(primary, "standby1", sync=True)
        sync_state = primary.sql("SELECT sync_state FROM pg_stat_replication")
        primary.sql("CREATE DATABASE wallet")
        url = (f"postgresql+psycopg://postgres@/wallet?host={primary.libpq_host()}&host={standby.libpq_host()}"
               "&target_session_attrs=read-write&connect_timeout=2")
        instance = work / "instance"
        load_demo_world(url, instance, args.students, timeout_s=900)
        from sqlalchemy import text

        from wallet.db import make_engine

        engine = make_engine(url)
        with engine.connect() as conn:
            schools = [r[0] for r in conn.execute(text("SELECT bin FROM schools ORDER BY bin"))]
        engine.dispose()
        terminals = [Terminal(f"T-failover-{n:02d}", []) for n in range(args.terminals)]
        register_terminals(url, terminals, [schools[n % len(schools)] for n in range(len(terminals))])
        # Its log is kept beside the report: a drill that goes wrong is read there.
        log_path = args.report.with_name("failover-gunicorn.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.unlink(missing_ok=True)
        server = LiveServer(url, instance, log_path, workers=3).start()
        recorder = Recorder()
        for terminal in terminals:
            terminal.students = terminal.roster(server.url, recorder)
        recorder = Recorder()
        threads = [threading.Thread(target=_terminal_loop, args=(t, server.url, recorder, stop, n))
                   for n, t in enumerate(terminals)]
        for thread in threads:
            thread.start()
        time.sleep(args.rush_seconds)
        killed_at = time.monotonic() - recorder.started
        print(f"{killed_at:6.1f} s  primary killed (SIGKILL)", flush=True)
        primary.kill()
        time.sleep(args.detect_seconds)
        promote_started = time.monotonic()
        standby.promote()
        promote_s = time.monotonic() - promote_started
        print(f"{time.monotonic() - recorder.started:6.1f} s  standby promoted ({promote_s:.2f} s)", flush=True)
        time.sleep(args.rush_seconds)
        elapsed = end_rush(stop, threads, terminals, server.url, recorder)
        server.stop()
        server = None
        check = check_ledger(url, terminals)
        env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": url, "WALLET_INSTANCE_PATH": str(instance),
               "PATH": str(BIN), "WALLET_LOG_LEVEL": "WARNING"}
        verify_code, verify_text = wallet_verify(env)
        window = _window(recorder.samples, killed_at, elapsed - killed_at)
        report = _report(args, recorder.samples, window, promote_s, elapsed, sync_state, check, verify_code,
                         verify_text)
        return publish_report(report, args.report, check, verify_code, recorder.samples)
    finally:
        stop.set()
        if server is not None:
            server.kill()
        if standby is not None:
            standby.remove()
        primary.remove()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _report(args: Any, samples: list[Any], window: dict[str, Any], promote_s: float, elapsed: float,
            sync_state: object, check: Any, verify_code: int, verify_text: str) -> str:
    statuses: dict[int, int] = {}
    for s in samples:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    recovered = window["recovered after"]
    return "\n".join([
        f"Failover drill ({time.strftime('%Y-%m-%d %H:%M')}, {machine()}): {args.terminals} terminals posting a "
        f"meal every ~0.3 s each and uploading every ~1 s for {elapsed:.0f} s against gunicorn (3 gevent "
        f"workers); PostgreSQL 15 primary (fsync on) with a {sync_state} standby; the primary killed "
        f"(SIGKILL) after {args.rush_seconds:.0f} s, the standby promoted {args.detect_seconds:.0f} s later "
        f"(`pg_ctl promote` took {promote_s:.2f} s).",
        "",
        f"- Uploads from the kill until the first success: {window['statuses'] or 'all 200'}; 503 without "
        f"Retry-After: {window['503 without Retry-After']}; first failure {window['first failure'] or 0:.1f} s "
        f"after the kill; uploads succeed again "
        + (f"{recovered:.1f} s after the kill" if recovered is not None else "(never)")
        + f" ({(recovered or 0) - args.detect_seconds - promote_s:.1f} s after the promotion ended); slowest "
        f"answer {fmt_ms(window['max ms'])} ms.",
        f"- All batch requests: {len(samples)}, statuses {dict(sorted(statuses.items()))}; 500s: "
        f"{statuses.get(500, 0)}.",
        f"- Ledger check on the promoted server: {check.made} events made, {check.acknowledged} acknowledged, "
        f"{check.rows} stored ({check.distinct} distinct); acknowledged but lost: {check.missing_acknowledged}; "
        f"never stored: {check.missing_made}; duplicated: {check.duplicated}.",
        f"- `wallet verify` on the promoted server: exit {verify_code}, {verify_text}.",
    ]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
