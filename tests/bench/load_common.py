"""Shared pieces of the on-demand load and fault trials (tests/bench/load_lunch_rush.py, faults_drill.py,
failover_drill.py).

Simulated terminals and parents talk HTTP to a real gunicorn on loopback, as the agent and the app do:
a terminal signs a fresh EdDSA token per request, keeps every event it made until the service acknowledges
it (`recorded` or `replayed`), and retries a batch with the same event ids after a 429, a 5xx or a broken
connection, honouring Retry-After. Every request is timed. Afterwards `check_ledger` compares what the
terminals made and what the service acknowledged with what the ledger holds, and `wallet_verify` runs
`wallet verify` on the database.

Every loop is bounded by a deadline and a count; all traffic is loopback.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AUDIENCE = "social-wallet-meal-ledger"


# The cluster's maintenance database: the benchmarks make and drop their own databases through it.
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin(sql: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE) on the maintenance database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def load_demo_world(database_url: str, instance: Path, students: int, *, timeout_s: float = 1200) -> None:
    """`wallet demo-data` into the benchmark's own database, as an operator would run it."""
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(instance),
           "PATH": str(BIN)}
    subprocess.run([str(BIN / "wallet"), "demo-data", "--students", str(students)], env=env, cwd=REPO,
                   check=True, capture_output=True, timeout=timeout_s)


def uuid7() -> str:
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Sample:
    kind: str
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    ms: float
    at: float  # seconds since the trial started
    retry_after: str | None = None


class Recorder:
    """Every request's kind, status and latency (thread-safe appends)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def add(self, kind: str, status: int, ms: float, retry_after: str | None = None) -> None:
        with self._lock:
            self.samples.append(Sample(kind, status, ms, time.monotonic() - self.started, retry_after))

    def timed(self, session: requests.Session, kind: str, method: str, url: str, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            response = session.request(method, url, timeout=30, **kwargs)
        except requests.RequestException:
            self.add(kind, 0, (time.perf_counter() - t0) * 1000)
            return None
        self.add(kind, response.status_code, (time.perf_counter() - t0) * 1000, response.headers.get("Retry-After"))
        return response


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[min(998, max(0, round(q * 1000) - 1))]


def summary(samples: list[Sample], seconds: float) -> dict[str, dict[str, Any]]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    out = {}
    for kind, group in sorted(by_kind.items()):
        ok = [s.ms for s in group if 200 <= s.status < 400]
        out[kind] = {"requests": len(group), "per_s": len(group) / seconds, "p50": percentile(ok, 0.50),
                     "p99": percentile(ok, 0.99), "statuses": dict(sorted(Counter(s.status for s in group).items()))}
    return out


class Terminal:
    """A simulated canteen terminal: its own key, device sequence, and events not yet acknowledged."""

    def __init__(self, terminal_id: str, students: list[str]) -> None:
        self.id = terminal_id
        self.key = Ed25519PrivateKey.generate()
        self.students = students
        self.seq = 0
        self.pending: list[dict[str, Any]] = []  # made, not yet acknowledged
        self.made: dict[str, int] = {}  # event id -> deviceSeq
        self.acknowledged: set[str] = set()
        self.unexpected: Counter[str] = Counter()  # conflict / invalid results (there should be none)
        self.session = requests.Session()

    @property
    def public_b64(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def token(self) -> str:
        now = int(time.time())
        claims = {"iss": self.id, "sub": self.id, "aud": AUDIENCE, "iat": now, "exp": now + 120,
                  "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.key, algorithm="EdDSA")

    def serve(self, rng: random.Random, meal_type: str = "lunch") -> None:
        self.seq += 1
        event = {"eventId": uuid7(), "deviceSeq": self.seq, "studentId": rng.choice(self.students),
                 "mealType": meal_type, "servedAt": iso_now(), "method": "qr"}
        self.made[event["eventId"]] = self.seq
        self.pending.append(event)

    def upload(self, base_url: str, recorder: Recorder, limit: int = 500) -> tuple[bool, float]:
        """Post up to `limit` pending events once; (all of them acknowledged, seconds to wait before a retry)."""
        chunk = self.pending[:limit]
        if not chunk:
            return True, 0.0
        response = recorder.timed(self.session, "terminal batch", "POST", f"{base_url}/api/v1/terminal/events",
                                  json={"sentAt": iso_now(), "events": chunk},
                                  headers={"Authorization": f"Bearer {self.token()}"})
        if response is None:
            return False, 0.5
        if response.status_code != 200:
            return False, retry_delay(response)
        done = set()
        for result in response.json()["results"]:
            if result["status"] in ("recorded", "replayed"):
                done.add(result["eventId"])
            else:
                self.unexpected[result["status"]] += 1
                done.add(result["eventId"])  # never acceptable; counted, not retried forever
        self.acknowledged |= {e for e in done if e in self.made}
        self.pending = [e for e in self.pending if e["eventId"] not in done]
        return not self.pending, 0.0

    def roster(self, base_url: str, recorder: Recorder) -> list[str]:
        response = recorder.timed(self.session, "terminal roster", "GET", f"{base_url}/api/v1/terminal/roster",
                                  headers={"Authorization": f"Bearer {self.token()}"})
        if response is None or response.status_code != 200:
            return []
        return [s["studentId"] for s in response.json()["students"]]

    def drain(self, base_url: str, recorder: Recorder, deadline: float) -> None:
        """Upload until nothing is pending (the service keeps answering 503 while the database is away)."""
        while self.pending and time.monotonic() < deadline:
            ok, wait = self.upload(base_url, recorder)
            if not ok:
                time.sleep(min(wait, 5.0) or 0.2)


def retry_delay(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else 1.0


def register_terminals(database_url: str, terminals: list[Terminal], school_bins: list[str]) -> None:
    """Register each terminal's public key at its school, as an operator does (wallet.terminals)."""
    from wallet.db import make_engine, make_session_factory
    from wallet.terminals import register_terminal

    engine = make_engine(database_url)
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            for terminal, school_bin in zip(terminals, school_bins, strict=True):
                register_terminal(session, school_bin=school_bin, public_key=terminal.public_b64,
                                  terminal_id=terminal.id)
    finally:
        engine.dispose()


@dataclass
class LedgerCheck:
    made: int
    acknowledged: int
    rows: int
    distinct: int
    missing_acknowledged: int  # acknowledged but not in the ledger: lost
    missing_made: int  # made but never stored (in flight when the trial ended, or lost)
    unknown: int  # in the ledger but never made by these terminals
    duplicated: int
    unexpected_results: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing_acknowledged or self.missing_made or self.unknown or self.duplicated
                    or self.unexpected_results)


def check_ledger(database_url: str, terminals: list[Terminal]) -> LedgerCheck:
    """What the terminals made and the service acknowledged, against the ledger's meal entries."""
    from sqlalchemy import func, select

    from wallet.db import make_engine, make_session_factory
    from wallet.models import LedgerEntry

    ids = [t.id for t in terminals]
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = [str(e) for e in session.scalars(
                select(LedgerEntry.event_id).where(LedgerEntry.terminal_id.in_(ids), LedgerEntry.kind == "meal"))]
            count = session.scalar(select(func.count()).select_from(LedgerEntry)
                                   .where(LedgerEntry.terminal_id.in_(ids), LedgerEntry.kind == "meal"))
    finally:
        engine.dispose()
    made = {e for t in terminals for e in t.made}
    acknowledged = {e for t in terminals for e in t.acknowledged}
    stored = set(rows)
    unexpected: Counter[str] = Counter()
    for t in terminals:
        unexpected.update(t.unexpected)
    return LedgerCheck(made=len(made), acknowledged=len(acknowledged), rows=count, distinct=len(stored),
                       missing_acknowledged=len(acknowledged - stored), missing_made=len(made - stored),
                       unknown=len(stored - made), duplicated=count - len(stored), unexpected_results=dict(unexpected))


def wallet_verify(env: dict[str, str]) -> tuple[int, str]:
    result = subprocess.run([str(BIN / "wallet"), "verify"], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=1800, check=False)
    # Off a terminal, `wallet verify` writes one JSON line per chain ("chain verified", ok) and a last one.
    chains = [json.loads(line) for line in (result.stdout + result.stderr).splitlines()
              if line.startswith("{") and '"chain verified"' in line]
    failed = [chain for chain in chains if not chain.get("ok")]
    return result.returncode, f"{len(chains) - len(failed)} chain(s) OK" + (f"; failed: {failed}" if failed else "")


def end_rush(stop: threading.Event, threads: list[threading.Thread], terminals: list[Terminal], url: str,
             recorder: Recorder, drain_s: float = 120.0) -> float:
    """Stop the terminals' loops, let each upload what it still holds; the trial's length in seconds."""
    stop.set()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + drain_s
    for terminal in terminals:
        terminal.drain(url, recorder, deadline)
    return time.monotonic() - recorder.started


def publish_report(report: str, path: Path, check: LedgerCheck, verify_code: int, samples: list[Sample]) -> int:
    """Print and save a drill's report; its exit status: 1 when a meal was lost or doubled, `wallet verify`
    failed or any request met a 500."""
    print(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report)
    failed = not check.ok or verify_code != 0 or any(s.status == 500 for s in samples)
    return 1 if failed else 0


def machine() -> str:
    cpus = os.cpu_count()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    return f"{cpus} CPUs, load average {' '.join(load)}"


def fmt_ms(value: float) -> str:
    return "-" if value != value else f"{value:.0f}" if value >= 10 else f"{value:.1f}"
