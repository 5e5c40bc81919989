"""A real gunicorn whose worker boots while the database does not answer (api/worker_boot.py): after a first
worker booted, that is a passing fault and the server keeps listening, the worker booting once the database
is back; at a first start it stops the start with one clear line (exit status 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.live_server import LiveServer

RETRYING = "booting worker retries"


def _workers(server: LiveServer) -> list[int]:
    assert server.process is not None
    found = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


@contextmanager
def _database_refusing(database_url: str, request) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """New connections to the test's database fail (OperationalError) inside the block, as in a restart."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        away = path.with_name(path.name + ".away")
        path.rename(away)
        # A link to a file in a folder that does not exist: SQLite cannot open it, nor create it.
        path.symlink_to(path.parent / "gone" / path.name)
        try:
            yield
        finally:
            os.replace(away, path)  # at once: no moment in which a connection could create a new file there
        return
    database = request.getfixturevalue("postgres_database")
    with database.admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database.name}" ALLOW_CONNECTIONS false'))
    try:
        yield
    finally:
        with database.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database.name}" ALLOW_CONNECTIONS true'))


def _wait_for(predicate, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_worker_booting_while_the_database_is_away_does_not_halt_the_server(start_server, database_url,
                                                                              request):
    server = start_server()
    [worker] = _workers(server)
    with _database_refusing(database_url, request):
        os.kill(worker, signal.SIGKILL)  # the master forks a new worker, which finds no database
        assert _wait_for(lambda: RETRYING in server.log() or not server.running), server.log()
        assert server.running, f"the master halted on a worker's boot:\n{server.log()}"
        assert "database unreachable" in server.log()
    # The database is back: the retrying worker boots and serves, on the same listening socket.
    assert requests.get(f"{server.url}/readyz", timeout=60).status_code == 200
    assert server.running and [worker] != _workers(server)


def test_a_first_start_without_its_database_stops_with_one_line(tmp_path):
    missing = tmp_path / "not-a-file"
    missing.mkdir()
    server = LiveServer(f"sqlite:///{missing}", tmp_path / "instance", tmp_path / "gunicorn.log")
    try:
        server.start()
    except RuntimeError:
        pass
    else:  # pragma: no cover - the assertion below says what went wrong
        server.kill()
    assert server.process is not None and server.process.returncode == 4, server.log()
    lines = [line for line in server.log().splitlines() if line.startswith("wallet: configuration error: ")]
    assert len(lines) == 1 and "database unreachable at sqlite:///" in lines[0], server.log()
    assert RETRYING not in server.log()
