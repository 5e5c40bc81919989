"""Fault trials while terminals post: PostgreSQL restarted, PostgreSQL crashed, gunicorn workers killed.

Run from the repository root (needs PostgreSQL's server binaries, e.g. /usr/lib/postgresql/15/bin):

    .venv/bin/python -m tests.bench.faults_drill                     # about three minutes
    .venv/bin/python -m tests.bench.faults_drill --phase-seconds 40  # longer phases

It never touches the shared PostgreSQL: it makes a private instance (initdb in a temporary directory, as the
`postgres` user when run as root, on a free loopback port), loads a demo world there, registers terminals
and starts gunicorn (api/gunicorn_conf.py, 3 workers). Simulated terminals post meals the whole time
(fresh token per request, the same event ids on every retry, Retry-After honoured), while the drill:

1. restarts PostgreSQL (`pg_ctl restart -m fast`);
2. crashes PostgreSQL (`pg_ctl stop -m immediate`: no shutdown checkpoint), keeps it down for a few seconds,
   starts it again (crash recovery);
3. kills one gunicorn worker with SIGKILL, then every worker at once (the master starts new ones);

with a quiet phase between faults. It reports, per fault, what the terminals got until their first success
(a 503 must carry Retry-After; a 500 is a failure), how long recovery took, and afterwards checks that every
event any terminal made is in the ledger exactly once and runs `wallet verify`. The SQLite faults (a full or
read-only disk) are tests that run in CI: tests/security/test_storage_faults.py.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

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
from tests.live_server import LiveServer, free_port


class PrivatePostgres:
    """A throwaway PostgreSQL cluster of this drill only (trust auth, loopback, its own port)."""

    def __init__(self, root: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("faults_drill: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
        self.bin = Path(found[-1]).parent
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self.as_postgres = os.geteuid() == 0
        root.mkdir(parents=True, exist_ok=True)
        root.parent.chmod(0o755)  # mkdtemp makes it 0700: the postgres user must reach its own directory
        if self.as_postgres:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise SystemExit(f"faults_drill: {tool} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w",
                  *args)

    def start(self) -> None:
        self._ctl("start")

    def restart_fast(self) -> None:
        self._ctl("restart", "-m", "fast")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "immediate", "-w")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w", check=False)


def _workers_of(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def _terminal_loop(terminal: Terminal, url: str, recorder: Recorder, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    next_upload = time.monotonic() + rng.uniform(0, 1)
    for _ in range(10_000_000):
        if stop.is_set():
            return
        terminal.serve(rng)
        if time.monotonic() >= next_upload:
            ok, wait = terminal.upload(url, recorder)
            next_upload = time.monotonic() + (rng.uniform(0.5, 1.5) if ok or wait == 0.0 else min(wait, 10.0))
        stop.wait(rng.uniform(0.2, 0.4))


def _window(samples: list[Any], start: float, quiet_after: float) -> dict[str, Any]:
    """What terminals got from `start` until their first success after the fault (at most `quiet_after`)."""
    after = [s for s in samples if start <= s.at <= start + quiet_after]
    failing = []
    recovered_at = None
    first_failure = next((s.at for s in after if s.status != 200), None)
    for s in after:
        if s.status == 200 and first_failure is not None and s.at > first_failure:
            recovered_at = s.at
            break
        if s.status != 200:
            failing.append(s)
    statuses: dict[int, int] = {}
    for s in failing:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "statuses": dict(sorted(statuses.items())),
        "503 without Retry-After": sum(1 for s in failing if s.status == 503 and not s.retry_after),
        "first failure": None if first_failure is None else first_failure - start,
        "recovered after": None if recovered_at is None else recovered_at - start,
        "max ms": max((s.ms for s in after), default=float("nan")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase-seconds", type=float, default=20.0, help="quiet time between faults")
    parser.add_argument("--terminals", type=int, default=12)
    parser.add_argument("--down-seconds", type=float, default=5.0, help="how long a crashed PostgreSQL stays down")
    parser.add_argument("--report", type=Path, default=Path("instance/faults-report.md"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wallet-faults-"))
    postgres: PrivatePostgres | None = None
    server: LiveServer | None = None
    stop = threading.Event()
    try:
        postgres = PrivatePostgres(work / "pg")
        postgres.start()
        admin = create_engine(f"{postgres.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "wallet_faults"'))
        admin.dispose()
        database_url = f"{postgres.url}/wallet_faults"
        instance = work / "instance"
        env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(instance),
               "PATH": str(BIN)}  # for `wallet verify` at the end
        load_demo_world(database_url, instance, 400, timeout_s=600)
        engine = create_engine(database_url)
        with engine.connect() as conn:
            schools = [r[0] for r in conn.execute(text("SELECT bin FROM schools ORDER BY bin"))]
        engine.dispose()
        terminals = [Terminal(f"T-fault-{n:02d}", []) for n in range(args.terminals)]
        register_terminals(database_url, terminals, [schools[n % len(schools)] for n in range(len(terminals))])
        server = LiveServer(database_url, instance, work / "gunicorn.log", workers=3).start()
        recorder = Recorder()
        for terminal in terminals:
            terminal.students = terminal.roster(server.url, recorder)
        recorder = Recorder()
        threads = [threading.Thread(target=_terminal_loop, args=(t, server.url, recorder, stop, n))
                   for n, t in enumerate(terminals)]
        for thread in threads:
            thread.start()
        marks: list[tuple[str, float]] = []

        def mark(label: str) -> None:
            marks.append((label, time.monotonic() - recorder.started))
            print(f"{marks[-1][1]:6.1f} s  {label}", flush=True)

        time.sleep(args.phase_seconds)
        mark("PostgreSQL restart (pg_ctl restart -m fast)")
        postgres.restart_fast()
        time.sleep(args.phase_seconds)
        mark(f"PostgreSQL crash (stop -m immediate), {args.down_seconds:.0f} s down, crash recovery")
        postgres.crash()
        time.sleep(args.down_seconds)
        postgres.start()
        time.sleep(args.phase_seconds)
        assert server.process is not None
        mark("one gunicorn worker killed (SIGKILL)")
        os.kill(_workers_of(server.process.pid)[0], signal.SIGKILL)
        time.sleep(args.phase_seconds)
        mark("every gunicorn worker killed at once (SIGKILL)")
        for pid in _workers_of(server.process.pid):
            os.kill(pid, signal.SIGKILL)
        time.sleep(args.phase_seconds)
        elapsed = end_rush(stop, threads, terminals, server.url, recorder)
        server.stop()
        server = None
        check = check_ledger(database_url, terminals)
        verify_code, verify_text = wallet_verify(env)
        report = _report(args, recorder.samples, marks, elapsed, check, verify_code, verify_text, len(terminals))
        return publish_report(report, args.report, check, verify_code, recorder.samples)
    finally:
        stop.set()
        if server is not None:
            server.kill()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


def _report(args: Any, samples: list[Any], marks: list[tuple[str, float]], elapsed: float, check: Any,
            verify_code: int, verify_text: str, terminals: int) -> str:
    statuses: dict[int, int] = {}
    for s in samples:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    lines = [
        f"Fault trial ({time.strftime('%Y-%m-%d %H:%M')}, {machine()}): {terminals} terminals posting a meal "
        f"every ~0.3 s each and uploading every ~1 s for {elapsed:.0f} s against gunicorn (3 gevent workers) and a "
        f"private PostgreSQL 15; {args.phase_seconds:.0f} s between faults. Status 0 = no HTTP answer "
        "(connection reset or refused).",
        "",
        "| fault | answers until the first success | 503 without Retry-After | first failure after | "
        "recovered after | slowest answer ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    ends = [at for _, at in marks[1:]] + [elapsed]
    for (label, at), end in zip(marks, ends, strict=True):
        w = _window(samples, at, end - at)
        first = "-" if w["first failure"] is None else f"{w['first failure']:.1f} s"
        recovered = "no failure" if w["first failure"] is None else (
            "not in the phase" if w["recovered after"] is None else f"{w['recovered after']:.1f} s")
        lines.append(f"| {label} | {w['statuses'] or 'all 200'} | {w['503 without Retry-After']} | {first} | "
                     f"{recovered} | {fmt_ms(w['max ms'])} |")
    lines += [
        "",
        f"- All batch requests: {len(samples)}, statuses {dict(sorted(statuses.items()))}; 500s: "
        f"{statuses.get(500, 0)}.",
        f"- Ledger check: {check.made} events made, {check.acknowledged} acknowledged, {check.rows} stored "
        f"({check.distinct} distinct); lost: {check.missing_acknowledged}; never stored: {check.missing_made}; "
        f"duplicated: {check.duplicated}; conflict/invalid results: {check.unexpected_results or 0}.",
        f"- `wallet verify`: exit {verify_code}, {verify_text}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
