"""The agent on bad input: a corrupt or locked journal, a wrong server URL, a bad enrollment code, a revoked
terminal, a device clock far from the service's, an invalid meal; and uploads that honour Retry-After. Each
gets a clear message and an exit status (1 service, 2 bad input, 3 journal), and the queue is never damaged."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import random
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import devices.identity
from devices.agent import Agent
from devices.cli import cli
from devices.client import ServiceError
from devices.identity import create_key
from devices.journal import Journal
from tests.live_server import enrollment_code, free_port, journal_rows, journal_setting, ledger_of, run_terminal
from wallet.terminals import revoke_terminal


def invoke(data: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--data-dir", str(data), *args])


def fake_enrolled(data: Path, server: str, meals: int = 0) -> Path:
    """A journal that looks enrolled (no service needed), with `meals` queued."""
    create_key(data / "terminal-key.pem")
    journal = Journal(data / "journal.sqlite3")
    journal.put(terminal_id="T-fake", server=server, school_bin="150340000505",
                audience="social-wallet-meal-ledger", max_batch="500")
    now = dt.datetime.now(dt.UTC)
    for n in range(meals):
        journal.append(str(devices.identity.uuid7(now)), f"pupil-{n}", "lunch", now, "qr", now.date().isoformat())
    journal.close()
    return data


def snapshot(data: Path) -> list[dict[str, Any]]:
    return journal_rows(data)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# the journal ----------------------------------------------------------------------------------------------

COMMANDS = [["status"], ["record", "pupil-1"], ["sync"], ["export"], ["run", "--once"],
            ["enroll", "--server", "http://127.0.0.1:9", "--code", "ABCD-EFGH-JKMN"]]


def test_a_corrupt_journal_is_refused_by_every_command_and_left_untouched(tmp_path):
    data = tmp_path / "t"
    data.mkdir()
    journal = data / "journal.sqlite3"
    journal.write_bytes(random.Random(4).randbytes(16384))
    before = digest(journal)
    for command in COMMANDS:
        result = invoke(data, *command)
        assert result.exit_code == 3, (command, result.output)
        assert "journal" in result.output and "cannot be used (corrupt or not a journal)" in result.output
    assert digest(journal) == before
    assert sorted(p.name for p in data.iterdir()) == ["journal.sqlite3"]  # no key made, no -wal beside it

    done = run_terminal(data, "record", "pupil-1")  # the real program, its real exit status
    assert done.returncode == 3 and done.stdout == "" and "cannot be used" in done.stderr
    assert digest(journal) == before


def test_a_damaged_journal_fails_its_integrity_check(tmp_path):
    data = fake_enrolled(tmp_path / "t", "http://127.0.0.1:9", meals=300)
    journal = data / "journal.sqlite3"
    db = sqlite3.connect(journal)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    raw = bytearray(journal.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    raw[2 * page + 8: 3 * page] = random.Random(5).randbytes(page - 8)  # scribble over a page of the table
    journal.write_bytes(bytes(raw))
    before = digest(journal)
    for command in (["status"], ["record", "pupil-x"], ["sync"]):
        result = invoke(data, *command)
        assert result.exit_code == 3, (command, result.output)
        assert "journal" in result.output
    assert digest(journal) == before


def test_an_sqlite_file_that_is_not_a_journal_is_left_alone(tmp_path):
    data = tmp_path / "t"
    data.mkdir()
    other = sqlite3.connect(data / "journal.sqlite3")
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    other.commit()
    other.close()
    before = digest(data / "journal.sqlite3")
    result = invoke(data, "record", "pupil-1")
    assert result.exit_code == 3 and "not a terminal journal" in result.output
    assert digest(data / "journal.sqlite3") == before


HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


@pytest.fixture
def locked_journal(tmp_path) -> Iterator[Path]:
    data = fake_enrolled(tmp_path / "t", "http://127.0.0.1:9", meals=2)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data / "journal.sqlite3")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield data
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)


def test_a_locked_journal_is_refused_with_exit_3_and_nothing_changes(locked_journal):
    data = locked_journal
    before = snapshot(data)
    done = run_terminal(data, "--lock-timeout", "0.3", "record", "pupil-9")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "" and "is locked by another process" in done.stderr
    done = run_terminal(data, "record", "pupil-9", env={"WALLET_TERMINAL_LOCK_TIMEOUT": "0.2"})
    assert done.returncode == 3 and "locked" in done.stderr
    status = run_terminal(data, "status")  # reading does not need the lock
    assert status.returncode == 0 and json.loads(status.stdout)["queued"] == 2
    assert snapshot(data) == before


def test_recording_after_a_lock_continues_the_sequence(tmp_path):
    data = fake_enrolled(tmp_path / "t", "http://127.0.0.1:9", meals=2)
    holder = sqlite3.connect(data / "journal.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    assert invoke(data, "--lock-timeout", "0.1", "record", "pupil-9").exit_code == 3
    holder.execute("ROLLBACK")
    holder.close()
    result = invoke(data, "record", "pupil-9")
    assert result.exit_code == 0 and result.output.startswith("recorded #3 ")
    assert [r["device_seq"] for r in snapshot(data)] == [1, 2, 3]


# the service: where it is, who may use it ---------------------------------------------------------------

def test_a_server_url_that_is_not_http_is_bad_input(tmp_path):
    data = tmp_path / "t"
    result = invoke(data, "enroll", "--server", "ftp://127.0.0.1/", "--code", "ABCD-EFGH-JKMN")
    assert result.exit_code == 2 and "must start with http:// or https://" in result.output
    assert not (data / "terminal-key.pem").exists()
    assert journal_setting(data, "terminal_id") is None


def test_an_unreachable_server_is_a_service_error_and_the_queue_is_kept(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    data = tmp_path / "t"
    done = run_terminal(data, "enroll", "--server", url, "--code", "ABCD-EFGH-JKMN")
    assert done.returncode == 1 and f"service unreachable at {url}" in done.stderr
    assert journal_setting(data, "terminal_id") is None

    queued = fake_enrolled(tmp_path / "q", url, meals=3)
    before = snapshot(queued)
    done = run_terminal(queued, "sync", "--attempts", "2")
    assert done.returncode == 1 and f"service unreachable at {url}" in done.stderr
    assert snapshot(queued) == before
    done = run_terminal(queued, "run", "--once")  # the loop shrugs off a passing outage
    assert done.returncode == 0 and "unreachable" in done.stderr and "3 queued" in done.stdout
    assert snapshot(queued) == before


def test_unknown_used_expired_and_malformed_codes_are_refused(live_server, session_factory, world, tmp_path):
    now = dt.datetime.now(dt.UTC)
    expired = enrollment_code(session_factory, world.school.bin, now=now - dt.timedelta(hours=2))
    used = enrollment_code(session_factory, world.school.bin)
    first = run_terminal(tmp_path / "first", "enroll", "--server", live_server.url, "--code", used)
    assert first.returncode == 0, first.stderr
    for n, code in enumerate([expired, used, "ABCD-EFGH-JKMN"]):
        data = tmp_path / f"t{n}"
        done = run_terminal(data, "enroll", "--server", live_server.url, "--code", code)
        assert done.returncode == 1, done.stderr
        assert "enrollment_code_invalid" in done.stderr and "unknown, used or expired" in done.stderr
        assert journal_setting(data, "terminal_id") is None
    done = run_terminal(tmp_path / "short", "enroll", "--server", live_server.url, "--code", "AB")
    assert done.returncode == 1 and "422 validation_failed" in done.stderr
    # A refused enrolment leaves the data directory ready for a good code (its key is kept and used).
    done = run_terminal(tmp_path / "t0", "enroll", "--server", live_server.url,
                        "--code", enrollment_code(session_factory, world.school.bin))
    assert done.returncode == 0, done.stderr


def test_a_revoked_terminal_is_told_so_and_keeps_its_queue(live_server, session_factory, world, tmp_path):
    data = tmp_path / "t"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", live_server.url, "--code", code).returncode == 0
    assert run_terminal(data, "record", str(world.eligible[0].id)).returncode == 0
    assert run_terminal(data, "sync").returncode == 0
    for pupil in world.eligible[1:3]:
        assert run_terminal(data, "record", str(pupil.id)).returncode == 0
    with session_factory() as session:
        revoke_terminal(session, journal_setting(data, "terminal_id"))
    before = snapshot(data)

    for command in (["sync"], ["run", "--once"]):
        done = run_terminal(data, *command)
        assert done.returncode == 1, (command, done.stderr)
        assert "403 terminal_revoked" in done.stderr and "this terminal was revoked: ask an operator" in done.stderr
    assert snapshot(data) == before
    assert [r["state"] for r in before] == ["acknowledged", "queued", "queued"]
    assert len(ledger_of(session_factory)) == 1
    # Meals can still be written down (the journal is the record); they wait for an operator.
    assert run_terminal(data, "record", str(world.eligible[3].id)).returncode == 0
    assert json.loads(run_terminal(data, "status").stdout)["queued"] == 3


def test_a_device_clock_far_from_the_services_is_shown_and_warned_about(start_server, session_factory, world,
                                                                       tmp_path, monkeypatch):
    server = start_server(env={"WALLET_DEVICE_CLOCK_TOLERANCE_S": "5"})
    data = tmp_path / "t"
    code = enrollment_code(session_factory, world.school.bin)
    assert invoke(data, "enroll", "--server", server.url, "--code", code).exit_code == 0

    # A minute slow: tokens still pass, but the service judges the meal device_clock_out_of_bounds.
    slow = 60
    monkeypatch.setattr(devices.identity, "utcnow", lambda: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=slow))
    assert invoke(data, "record", str(world.eligible[0].id)).exit_code == 0
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "sync"])
    assert result.exit_code == 0, result.output
    assert "uploaded 1: 1 acknowledged (0 billable), 0 rejected" in result.stdout
    assert "warning: the device clock is" in result.stderr and "s behind the service's clock" in result.stderr
    assert "1 meal refused by the service as device_clock_out_of_bounds" in result.stderr
    assert journal_rows(data)[0]["reasons"] == "device_clock_out_of_bounds"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "status"])
    status = json.loads(result.stdout)
    assert 55_000 < status["clockOffsetMs"] < 70_000 and "behind the service's clock" in status["clockWarning"]
    assert status["clock_refused"] == 1 and "warning:" in result.stderr

    # An hour fast: the service refuses its tokens; the agent says that the clock is the problem.
    monkeypatch.setattr(devices.identity, "utcnow", lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert invoke(data, "record", str(world.eligible[1].id)).exit_code == 0
    before = snapshot(data)
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "sync"])
    assert result.exit_code == 1
    assert re.search(r"the device clock is 36(00|01|02) s ahead of the service's clock", result.stderr)  # Date: 1 s
    assert "set the device clock" in result.stderr
    assert snapshot(data) == before and before[1]["state"] == "queued"
    assert len(ledger_of(session_factory)) == 1


def test_invalid_meals_are_bad_input_and_write_nothing(tmp_path):
    data = fake_enrolled(tmp_path / "t", "http://127.0.0.1:9")
    for args, message in [(["pupil-1", "--meal-type", "brunch"], "Invalid value for '--meal-type'"),
                          (["pupil-1", "--method", "telepathy"], "Invalid value for '--method'"),
                          (["x" * 65], "student id must be 1-64 characters"),
                          ([""], "student id must be 1-64 characters")]:
        result = invoke(data, "record", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
    done = run_terminal(data, "record", "pupil-1", "--meal-type", "brunch")
    assert done.returncode == 2 and "brunch" in done.stderr
    assert snapshot(data) == []
    result = invoke(tmp_path / "never-enrolled", "record", "pupil-1")
    assert result.exit_code == 2 and "not enrolled" in result.output


# uploads: batches, backoff, Retry-After -------------------------------------------------------------------

class FakeService:
    """A tiny HTTP server that answers POST /api/v1/terminal/events from a script of (status, headers) and
    otherwise accepts every event; it records each batch it was sent."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.batches: list[list[dict[str, Any]]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(304, {"ETag": '"same"'}, None)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, headers = service.script.pop(0) if service.script else (200, {})
                if status != 200:
                    self._send(status, headers, {"code": "busy", "detail": "try later"})
                    return
                service.batches.append(body["events"])
                results = [{"index": n, "eventId": e["eventId"], "status": "recorded", "verdict": "billable",
                            "reasons": [], "entryId": 1000 + e["deviceSeq"], "position": e["deviceSeq"],
                            "leafHash": f"{e['deviceSeq']:064x}"} for n, e in enumerate(body["events"])]
                self._send(200, {}, {"results": results, "serverTime": "2026-01-01T00:00:00.000Z",
                                     "clockOffsetMs": 12})

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_service() -> Iterator[Any]:
    made: list[FakeService] = []

    def make(script: list[tuple[int, dict[str, str]]]) -> FakeService:
        made.append(FakeService(script))
        return made[-1]

    yield make
    for service in made:
        service.close()


def test_backoff_honours_retry_after_in_seconds_and_as_a_date(tmp_path, fake_service):
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20), usegmt=True)
    service = fake_service([(503, {"Retry-After": "7"}), (429, {"Retry-After": later}), (200, {})])
    data = fake_enrolled(tmp_path / "t", service.url, meals=3)
    slept: list[float] = []
    agent = Agent(data, sleep=slept.append, rng=random.Random(1))
    try:
        report = agent.sync()
    finally:
        agent.close()
    assert slept[0] == 7 and 17 <= slept[1] <= 21
    assert (report.sent, report.acknowledged, report.remaining) == (3, 3, 0)
    rows = snapshot(data)
    assert [(r["state"], r["position"], r["entry_id"]) for r in rows] == [
        ("acknowledged", 1, 1001), ("acknowledged", 2, 1002), ("acknowledged", 3, 1003)]
    assert rows[0]["leaf_hash"] == f"{1:064x}"


def test_backoff_without_retry_after_is_exponential_with_full_jitter_and_gives_up(tmp_path, fake_service):
    service = fake_service([(500, {})] * 4 + [(502, {}), (200, {})])
    data = fake_enrolled(tmp_path / "t", service.url, meals=2)
    before = snapshot(data)
    slept: list[float] = []
    agent = Agent(data, sleep=slept.append, rng=random.Random(3))
    try:
        with pytest.raises(ServiceError) as refused:
            agent.sync(max_attempts=4)
        assert refused.value.retryable and refused.value.status == 500
        assert len(slept) == 3 and all(0 <= s <= 2 ** n for n, s in enumerate(slept))
        assert snapshot(data) == before  # nothing stored from failed attempts

        slept.clear()
        report = agent.sync(max_attempts=3)  # 502, then 200
        assert len(slept) == 1 and report.acknowledged == 2
    finally:
        agent.close()


def test_a_refusal_that_waiting_cannot_fix_is_not_retried(tmp_path, fake_service):
    service = fake_service([(400, {}), (200, {})])
    data = fake_enrolled(tmp_path / "t", service.url, meals=1)
    slept: list[float] = []
    agent = Agent(data, sleep=slept.append)
    try:
        with pytest.raises(ServiceError) as refused:
            agent.sync()
    finally:
        agent.close()
    assert not refused.value.retryable and slept == [] and service.batches == []


def test_uploads_go_in_batches_of_at_most_500_in_device_seq_order(tmp_path, fake_service):
    service = fake_service([])
    data = fake_enrolled(tmp_path / "t", service.url, meals=1203)
    result = invoke(data, "sync")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "uploaded 1203: 1203 acknowledged (1203 billable), 0 rejected; 0 still queued"
    assert [len(b) for b in service.batches] == [500, 500, 203]
    assert [e["deviceSeq"] for b in service.batches for e in b] == list(range(1, 1204))
    status = json.loads(invoke(data, "status").output)
    assert status["clockOffsetMs"] == 12 and status["clockWarning"] is None


def test_a_service_that_now_takes_smaller_batches_gets_them(tmp_path, fake_service):
    service = fake_service([(413, {})])
    data = fake_enrolled(tmp_path / "t", service.url, meals=10)
    result = invoke(data, "sync")
    assert result.exit_code == 0, result.output
    assert [len(b) for b in service.batches] == [5, 5]
    assert journal_setting(data, "max_batch") == "5"
