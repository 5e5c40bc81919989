"""A real gunicorn serving the API on a loopback port, against a test's own migrated database.

Used by the terminal-agent tests (tests/devices) and the crash tests (tests/e2e): the agent talks to it over
HTTP exactly as in production. The server can be killed with SIGKILL (master and workers at once, as a
machine losing power would) and started again on the same port.

Import the fixtures into a conftest.py: `from tests.live_server import live_server, start_server  # noqa: F401`.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent
WALLET_TERMINAL = str(BIN / "wallet-terminal")
GUNICORN = str(BIN / "gunicorn")
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """One gunicorn process group; `kill()` is kill -9 of all of it, `start()` brings it back on the same port."""

    def __init__(self, database_url: str, instance_path: Path, log_path: Path, *, workers: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.instance_path = instance_path
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
        return {**base, "WALLET_ENV": "test", "WALLET_DATABASE_URL": self.database_url,
                "WALLET_INSTANCE_PATH": str(self.instance_path), **self.extra_env}

    def start(self, timeout_s: float = 30.0) -> LiveServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [GUNICORN, "-c", "python:api.gunicorn_conf", "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(self.workers), "--graceful-timeout", "2", "--access-logfile", "/dev/null"],
            cwd=REPO, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped during start-up:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn at {self.url} was not ready in {timeout_s} s:\n{self.log()}")

    def _signal_group(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            return

    def kill(self) -> None:
        """kill -9 of the master and every worker at once; the port is free again when this returns."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._wait_port_closed()

    def stop(self) -> None:
        """An orderly shutdown (SIGTERM), falling back to SIGKILL."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._wait_port_closed()

    def _wait_port_closed(self, timeout_s: float = 10.0) -> None:
        # Workers die with the group; wait until no process of it still listens.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def restart(self) -> LiveServer:
        self.kill()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def enrollment_code(session_factory: Any, school_bin: str, *, lifetime: dt.timedelta | None = None,
                    now: dt.datetime | None = None) -> str:
    """A one-time code made as an operator makes one (wallet.terminals.create_enrollment_code)."""
    from wallet.terminals import ENROLLMENT_CODE_LIFETIME, create_enrollment_code

    with session_factory() as session:
        code, _ = create_enrollment_code(session, school_bin, now=now, lifetime=lifetime or ENROLLMENT_CODE_LIFETIME)
    return code


def run_terminal(data_dir: Path, *args: str, timeout: float = 120.0,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wallet-terminal --data-dir DIR ARGS...` as a separate process."""
    return subprocess.run(
        [WALLET_TERMINAL, "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, check=False,
    )


@pytest.fixture
def start_server(database_url: str, world: Any, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a real gunicorn (with optional WALLET_* environment overrides) on the test's database and world;
    every server started is killed at teardown, before the database is dropped."""
    servers: list[LiveServer] = []

    def start(*, env: dict[str, str] | None = None, workers: int = 1) -> LiveServer:
        n = len(servers) + 1
        server = LiveServer(database_url, tmp_path / "instance", tmp_path / f"gunicorn-{n}.log", workers=workers,
                            env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def live_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


def journal_rows(data_dir: Path) -> list[dict[str, Any]]:
    """The agent's journal, read-only, in deviceSeq order."""
    import sqlite3

    db = sqlite3.connect(f"file:{data_dir / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM events ORDER BY device_seq")]
    finally:
        db.close()


def journal_setting(data_dir: Path, key: str) -> str | None:
    import sqlite3

    db = sqlite3.connect(f"file:{data_dir / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None
    finally:
        db.close()


def ledger_of(session_factory: Any, terminal_id: str | None = None) -> list[Any]:
    """Meal entries in the service's ledger (all, or one terminal's), in chain order."""
    from sqlalchemy import select

    from wallet.models import LedgerEntry

    query = select(LedgerEntry).where(LedgerEntry.kind == "meal").order_by(LedgerEntry.school_id, LedgerEntry.position)
    if terminal_id is not None:
        query = query.where(LedgerEntry.terminal_id == terminal_id)
    with session_factory() as session:
        return list(session.scalars(query))
