"""`wallet run-demo` as a person runs it, in real processes: a port another program holds is a clear error
(the simulator never posts to that other server), and SIGTERM stops gunicorn and the simulator with it, so
nothing is left holding the port. Each test uses a free port of its own, never 8000."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.live_server import REPO, free_port

WALLET = str(Path(sys.executable).parent / "wallet")


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small demo world in an SQLite file of its own (development settings, as `make run` has them)."""
    instance = tmp_path_factory.mktemp("demo-instance")
    base = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
    env = {**base, "WALLET_ENV": "development", "WALLET_INSTANCE_PATH": str(instance),
           "WALLET_DATABASE_URL": f"sqlite:///{instance / 'wallet.sqlite3'}"}
    made = subprocess.run([WALLET, "demo-data", "--students", "40"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr
    return env


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Another program's server that says yes to everything (as another demo's /readyz would)."""

    paths: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[tuple[int, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Recorder)
    _Recorder.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Recorder.paths
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_port_is_a_clear_error_and_nothing_is_posted_to_the_other_server(demo_env, other_server):
    port, paths = other_server
    run = subprocess.run([WALLET, "run-demo", "--port", str(port), "--duration", "5"], env=demo_env, cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0, run.stdout + run.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in run.stderr and "--port" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert "posting meals" not in run.stdout
    assert paths == [], paths  # not even a readiness probe reached the other server


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_the_server_and_the_simulator(demo_env, tmp_path):
    port = free_port()
    log = tmp_path / "run-demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen([WALLET, "run-demo", "--port", str(port)], env=demo_env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"posting meals" not in log.read_bytes() or b"enrolled" not in log.read_bytes():
            assert demo.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        assert not _port_is_free(port)
        demo.send_signal(signal.SIGTERM)  # to run-demo alone, as systemd or `kill PID` sends it
        demo.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _group_alive(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(demo.pid), "a child of run-demo outlived it"
        assert _port_is_free(port)
        assert b"stopping" in log.read_bytes()
    finally:
        if _group_alive(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
