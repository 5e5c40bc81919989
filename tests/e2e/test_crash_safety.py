"""Crash tests with real processes, on SQLite and PostgreSQL: `wallet-terminal` and gunicorn are killed with
SIGKILL at random moments, the network goes away and comes back. Afterwards every meal the agent reported as
recorded is in the service's ledger exactly once, nothing else is, and deviceSeq has no gaps."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from api.auth import dev_idp
from devices.agent import Agent
from tests.live_server import WALLET_TERMINAL, enrollment_code, journal_rows, journal_setting, ledger_of, run_terminal
from wallet.terminals import sequence_gaps

pytestmark = pytest.mark.slow

REPORTED = re.compile(r"^recorded #(\d+) ([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}): ",
                      re.MULTILINE)
# Small batches, so that a sync is several requests and a kill can land between or inside them.
SMALL_BATCHES = {"WALLET_MAX_BATCH_EVENTS": "25"}
RECORD_LOOP = 'while :; do for s in $PUPILS; do "$WT" --data-dir "$DATA" record "$s" --method qr || exit 9; done; done'


def _enroll(server, session_factory, world, data: Path) -> str:  # type: ignore[no-untyped-def]
    done = run_terminal(data, "enroll", "--server", server.url, "--code",
                        enrollment_code(session_factory, world.school.bin))
    assert done.returncode == 0, done.stderr
    terminal_id = journal_setting(data, "terminal_id")
    assert terminal_id
    return terminal_id


def _pupils(world) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p.id) for p in world.eligible] + [str(world.not_eligible.id), str(world.elsewhere.id), "unknown-9"]


def _spawn(args: list[str], **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def _kill9(process: subprocess.Popen[str]) -> tuple[bool, str]:
    """kill -9 the process and its children; whether it was still running, and what it had printed."""
    running = process.poll() is None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=10)
    return running, out


def _drain(data: Path) -> None:
    done = run_terminal(data, "sync", "--attempts", "10")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith("; 0 still queued")


def _ledger_count(session_factory) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from wallet.models import LedgerEntry

    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def _assert_exactly_once(session_factory, data: Path, terminal_id: str, reported: dict[str, int]) -> list:  # type: ignore[no-untyped-def]
    rows = journal_rows(data)
    journal = {r["event_id"]: r for r in rows}
    assert [r["device_seq"] for r in rows] == list(range(1, len(rows) + 1)), "the journal's deviceSeq has gaps"
    assert all(r["state"] == "acknowledged" for r in rows), [r for r in rows if r["state"] != "acknowledged"][:3]
    # Every meal reported as recorded is in the journal, under the number it was reported with.
    assert set(reported) <= set(journal)
    assert all(journal[event_id]["device_seq"] == seq for event_id, seq in reported.items())

    entries = ledger_of(session_factory)
    ids = [str(e.event_id) for e in entries]
    assert len(ids) == len(set(ids)), "an event is in the ledger twice"
    assert set(ids) == set(journal), "the ledger and the journal hold different events"
    assert all(e.terminal_id == terminal_id for e in entries)
    for entry in entries:
        row = journal[str(entry.event_id)]
        assert (entry.device_seq, entry.student_ref, entry.meal_type) == (
            row["device_seq"], row["student_id"], row["meal_type"])
        assert (row["entry_id"], row["position"], row["leaf_hash"]) == (entry.id, entry.position,
                                                                      entry.leaf_hash.hex())
    assert sorted(e.position for e in entries) == list(range(1, len(entries) + 1)), "the chain has holes"
    with session_factory() as session:
        assert sequence_gaps(session, terminal_id) == (len(rows), [])
    return entries


def test_kill_9_of_record_and_sync_at_random_moments_loses_and_duplicates_nothing(start_server, session_factory,
                                                                                 world, tmp_path):
    server = start_server(env=SMALL_BATCHES)
    data = tmp_path / "terminal"
    terminal_id = _enroll(server, session_factory, world, data)
    rng = random.Random(20261123)
    reported: dict[str, int] = {}
    env = {**os.environ, "WT": WALLET_TERMINAL, "DATA": str(data), "PUPILS": " ".join(_pupils(world))}

    # How long an uninterrupted sync of a few batches takes here, so that kills land inside one.
    agent = Agent(data)
    try:
        for n in range(40):
            recorded = agent.record(_pupils(world)[n % 8], "lunch", "card")
            reported[recorded.event_id] = recorded.device_seq
    finally:
        agent.close()
    started = time.monotonic()
    _drain(data)
    sync_s = time.monotonic() - started

    # At least 20 trials, and more (a bounded number) until 7 syncs were killed in the middle of an upload: how
    # long a sync lasts moves with the machine's load, so a fixed count of trials interrupted too few at times.
    trials, killed_records, killed_syncs = 0, 0, 0
    while trials < 20 or (killed_syncs < 7 and trials < 80):
        trials += 1
        recorder = _spawn(["sh", "-c", RECORD_LOOP], env=env)
        time.sleep(rng.uniform(0.0, 0.3))
        syncer = _spawn([WALLET_TERMINAL, "--data-dir", str(data), "sync"])
        sync_kill_at = time.monotonic() + rng.uniform(0.1, 1.2 * sync_s)
        record_kill_at = time.monotonic() + rng.uniform(0.1, 1.2)
        for kill_at, process in sorted([(sync_kill_at, syncer), (record_kill_at, recorder)], key=lambda p: p[0]):
            time.sleep(max(0.0, kill_at - time.monotonic()))
            running, out = _kill9(process)
            if process is recorder:
                assert running, f"the recorder stopped by itself: {process.stderr.read() if process.stderr else ''}"
                killed_records += 1
                reported.update({event_id: int(seq) for seq, event_id in REPORTED.findall(out)})
            else:
                killed_syncs += running
                assert running or process.returncode == 0, out
    assert killed_records == trials and killed_syncs >= 7

    # After the crashes: start again, upload, and compare.
    _drain(data)
    entries = _assert_exactly_once(session_factory, data, terminal_id, reported)
    assert len(reported) > 40 and len(entries) >= len(reported)


def test_kill_9_of_the_server_while_batches_are_in_flight(start_server, session_factory, world, tmp_path):
    server = start_server(env=SMALL_BATCHES)
    data = tmp_path / "terminal"
    terminal_id = _enroll(server, session_factory, world, data)
    reported: dict[str, int] = {}
    agent = Agent(data)
    try:
        for n in range(400):
            recorded = agent.record(_pupils(world)[n % 8], "lunch", "qr")
            reported[recorded.event_id] = recorded.device_seq
    finally:
        agent.close()

    syncer = _spawn([WALLET_TERMINAL, "--data-dir", str(data), "sync", "--attempts", "12"])
    crashes = 0
    for _ in range(2):
        # Wait until the service has taken another batch, then pull the plug on it mid-stream.
        floor = _ledger_count(session_factory)
        deadline = time.monotonic() + 60
        while _ledger_count(session_factory) <= floor and syncer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if syncer.poll() is not None:
            break
        server.kill()
        crashes += 1
        time.sleep(0.5)
        server.start()
    assert crashes >= 1, "the upload ended before the server could be killed"
    out, err = syncer.communicate(timeout=120)
    assert syncer.returncode == 0, err  # its own retries carried it through the crashes
    assert out.splitlines()[0] == "uploaded 400: 400 acknowledged (5 billable), 0 rejected; 0 still queued"

    _drain(data)
    _assert_exactly_once(session_factory, data, terminal_id, reported)


def test_network_cut_queue_drains_in_device_seq_order_without_gaps(start_server, session_factory, world, settings,
                                                                   tmp_path):
    server = start_server(env=SMALL_BATCHES)
    data = tmp_path / "terminal"
    terminal_id = _enroll(server, session_factory, world, data)
    pupils = _pupils(world)
    for pupil in pupils[:3]:
        assert run_terminal(data, "record", pupil).returncode == 0
    _drain(data)

    server.kill()  # the network is gone
    agent = Agent(data)
    try:
        offline = [agent.record(pupils[n % len(pupils)], "lunch", "qr") for n in range(60)]
    finally:
        agent.close()
    cut = run_terminal(data, "sync", "--attempts", "2")
    assert cut.returncode == 1 and f"service unreachable at {server.url}" in cut.stderr
    assert [r["state"] for r in journal_rows(data)].count("queued") == 60

    server.start()  # and back
    done = run_terminal(data, "sync")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("uploaded 60: 60 acknowledged")

    entries = _assert_exactly_once(session_factory, data, terminal_id,
                                   {r.event_id: r.device_seq for r in offline})
    in_chain_order = [e.device_seq for e in sorted(entries, key=lambda e: e.position)]
    assert in_chain_order == list(range(1, 64))
    received = [e.received_at for e in sorted(entries, key=lambda e: e.device_seq)]
    assert received == sorted(received)

    token = dev_idp.issue_token(settings, "operator-1", {"role": "operator"})
    answer = requests.get(f"{server.url}/api/v1/admin/terminals/{terminal_id}/gaps",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"terminalId": terminal_id, "highestSeq": 63, "missing": 0, "gaps": []}
