"""/metrics under a real gunicorn with two gevent workers after a small lunch rush from two terminals: every
metric the alert rules name is served, and the counts of both workers add up (prometheus multi-process mode).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from itertools import count
from pathlib import Path

import requests
from prometheus_client.mmap_dict import MmapedDict

from tests.factories import TerminalKey, batch, meal_event
from tests.live_server import BIN
from tests.metrics.scrape import alert_metric_names, samples, total

TOKEN = "live-metrics-token-0123456789abcdef"
EVENTS = "/api/v1/terminal/events"
# Every metric the alert rules name has samples (push delivery registers the outbox consumer "push").
DECLARED_ONLY: set[str] = set()
MAX_BATCHES = 200  # a bound, not a timing: the rush goes on until both workers have served batches


def _post(server, key: TerminalKey, events: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    # A connection per batch (as terminals waking up do), so that both workers accept some.
    try:
        response = requests.post(server.url + EVENTS, json=batch(*events), timeout=30,
                                 headers={**key.headers(), "Connection": "close"})
    except requests.ConnectionError as exc:  # say why the server went away, from its own log
        state = "running" if server.running else f"exited with {server.process.returncode}"
        raise AssertionError(f"{exc}\ngunicorn {state}; its log ends:\n{server.log()}") from exc
    assert response.status_code == 200, response.text
    return response.json()


def _ingest_counts_by_process(metrics_dir: Path) -> dict[str, float]:
    """pid -> ingest events that worker counted, read from its own counter file."""
    found: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.split("_")[-1]
        found[pid] = sum(value for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path))
                         if '"wallet_ingest_events_total"' in key)
    return found


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _scrape(server) -> dict:  # type: ignore[no-untyped-def]
    response = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    return samples(response.text)


def test_alert_metrics_are_served_and_counts_add_up_across_two_workers(start_server, world, session_factory,
                                                                        tmp_path, database_url):
    keys = [TerminalKey("T-rush-a"), TerminalKey("T-rush-b")]
    with session_factory() as session:
        for key in keys:
            key.register(session, world.school)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # Left by a master killed with SIGKILL (removed at start), and one of a master still running (kept).
    dead_pid = _dead_pid()
    stale, running = scratch / f"wallet-metrics-{dead_pid}-x1", scratch / f"wallet-metrics-{os.getpid()}-x2"
    for folder in (stale, running):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"")
    server = start_server(env={"WALLET_METRICS_TOKEN": TOKEN, "TMPDIR": str(scratch)}, workers=2)
    assert not stale.exists() and running.exists()
    [metrics_dir] = set(scratch.glob("wallet-metrics-*")) - {running}  # the master's own directory for this start

    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = requests.get(server.url + "/metrics", headers=header, timeout=10)
        assert refused.status_code == 401 and "wallet_" not in refused.text

    # The rush: each terminal sends batches of a few pupils; some meals are second helpings (not billable),
    # one in each batch is invalid, one batch is sent again (replayed).
    posted = {"events": 0, "batches": 0, "recorded": 0, "invalid": 0, "replayed": 0}
    seqs = {key.terminal_id: count(1) for key in keys}
    pupils = [*world.eligible, world.not_eligible]
    last: tuple[TerminalKey, list[dict]] | None = None
    while posted["batches"] < MAX_BATCHES:
        for key in keys:
            events = [meal_event(p, next(seqs[key.terminal_id])) for p in pupils]
            events.append({**meal_event(pupils[0], next(seqs[key.terminal_id])), "mealType": "dinner"})
            summary = _post(server, key, events)["summary"]
            posted["events"] += len(events)
            posted["batches"] += 1
            posted["recorded"] += summary["recorded"]
            posted["invalid"] += summary["invalid"]
            last = (key, events)
        by_process = _ingest_counts_by_process(metrics_dir)
        if len([pid for pid, n in by_process.items() if n > 0]) >= 2 and posted["batches"] >= 6:
            break
    assert last is not None
    replay = _post(server, *last)["summary"]
    posted["events"] += len(last[1])
    posted["batches"] += 1
    posted["replayed"] += replay["replayed"]
    posted["invalid"] += replay["invalid"]
    assert replay["replayed"] == len(last[1]) - 1

    by_process = _ingest_counts_by_process(metrics_dir)
    assert len([n for n in by_process.values() if n > 0]) == 2, f"one worker served every batch: {by_process}"

    # A checkpoint and a verification run, by the command line as the operator's timers run them.
    env = {**server.environment(), "PATH": f"{BIN}:{os.environ['PATH']}"}
    for command in (["checkpoint"], ["verify"]):
        done = subprocess.run([str(BIN / "wallet"), *command], env=env, capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    # Whichever worker answers, the figures are the sum over both (several scrapes, over fresh connections).
    for _ in range(4):
        found = _scrape(server)
        assert total(found, "wallet_ingest_events_total") == posted["events"] == sum(by_process.values())
        assert total(found, "wallet_ingest_events_total", status="recorded") == posted["recorded"]
        assert total(found, "wallet_ingest_events_total", status="invalid") == posted["invalid"]
        assert total(found, "wallet_ingest_events_total", status="replayed") == posted["replayed"]
        assert total(found, "wallet_ingest_reasons_total", reason="validation_failed") == posted["invalid"]
        assert total(found, "wallet_ingest_batch_events_count") == posted["batches"]
        assert total(found, "wallet_ingest_append_seconds_count") == posted["batches"]
        assert total(found, "wallet_http_requests_total", route=EVENTS, status="200") == posted["batches"]
        assert total(found, "wallet_http_requests_total", route="/metrics", status="401") == 3
        assert total(found, "wallet_terminals_active") == 2
        assert total(found, "wallet_terminals_silent", longer_than="15m") == 0
        assert total(found, "wallet_checkpoints_total") >= 1
        assert total(found, "wallet_verification_runs_total", result="ok") == 1
        assert total(found, "wallet_db_pool_size") >= 0 and total(found, "wallet_metrics_database_up") == 1

    named = alert_metric_names()
    assert named - set(found) == set(), "alert rules name metrics /metrics does not serve"
    without_samples = {name for name in named if not found[name]}
    assert without_samples == DECLARED_ONLY

    # A worker killed with SIGKILL: the master's child_exit drops its live gauges, the counts stay.
    victim = next(pid for pid, n in by_process.items() if n > 0)
    assert list(metrics_dir.glob(f"gauge_livesum_{victim}.db"))
    os.kill(int(victim), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while list(metrics_dir.glob(f"gauge_livesum_{victim}.db")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(metrics_dir.glob(f"gauge_livesum_{victim}.db")), "child_exit did not mark the worker dead"
    assert total(_scrape(server), "wallet_ingest_events_total") == posted["events"]

    server.stop()
    assert not metrics_dir.exists(), "the master removes its metrics directory at exit"
