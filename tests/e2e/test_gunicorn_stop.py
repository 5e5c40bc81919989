"""Stopping the server as a person does: Ctrl-C in its terminal sends SIGINT to gunicorn's whole process
group (master and gevent workers at once). The server stops, within its graceful timeout, and writes no
traceback (gunicorn's quick quit in a gevent worker exits from a greenlet, which gevent prints as a failure)."""

from __future__ import annotations

import signal

import requests


def test_ctrl_c_stops_the_server_without_a_traceback(start_server):
    """With the development settings `make run` serves (under the test settings the old quick quit happened
    to pass quietly)."""
    server = start_server(workers=2, env={"WALLET_ENV": "development"})
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    server._signal_group(signal.SIGINT)
    assert server.process is not None
    server.process.wait(timeout=30)
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "failed with SystemExit" not in log, log[-3000:]
    assert "Shutting down" in log or "Handling signal: int" in log, log[-3000:]
