"""Every `wallet-terminal` command against a real gunicorn on SQLite and PostgreSQL: enroll, record, sync,
status, export, run, simulate."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import sqlite3
import stat
from pathlib import Path

import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.agent import Agent
from devices.cli import cli
from tests.live_server import enrollment_code, journal_rows, journal_setting, ledger_of, run_terminal
from wallet.models import Terminal


def _enroll(tmp_path: Path, server, session_factory, world, name: str = "t1") -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    data = tmp_path / name
    code = enrollment_code(session_factory, world.school.bin)
    done = run_terminal(data, "enroll", "--server", server.url, "--code", code, "--label", name)
    assert done.returncode == 0, done.stderr
    terminal_id = journal_setting(data, "terminal_id")
    assert terminal_id and done.stdout.startswith(f"enrolled as {terminal_id} for school {world.school.bin}")
    return data, terminal_id


def test_enroll_makes_its_own_key_and_sends_only_the_public_half(live_server, session_factory, world, tmp_path,
                                                                 monkeypatch):
    sent: list[bytes] = []
    real_request = requests.Session.request

    def spy(self, method, url, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(json.dumps(kwargs.get("json")).encode() + json.dumps(kwargs.get("headers") or {}).encode())
        return real_request(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    data = tmp_path / "term"
    code = enrollment_code(session_factory, world.school.bin)
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "enroll", "--server", live_server.url, "--code", code])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("enrolled as T-")

    key_file = data / "terminal-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    private_raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    public_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    terminal_id = journal_setting(data, "terminal_id")
    with session_factory() as session:
        terminal = session.get(Terminal, terminal_id)
        assert terminal is not None and terminal.status == "active" and terminal.school_id == world.school.id
        assert base64.urlsafe_b64decode(terminal.public_key + "==") == public_raw

    # A later request proves the terminal with its key: signed tokens, never the key itself.
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "sync"])
    assert result.exit_code == 0, result.output
    assert len(sent) == 2  # enroll, roster (nothing queued to upload)
    secret_forms = [private_raw, base64.b64encode(private_raw), base64.urlsafe_b64encode(private_raw).rstrip(b"="),
                    key_file.read_bytes().split(b"\n")[1]]
    for body in sent:
        assert not any(secret in body for secret in secret_forms)
    assert base64.urlsafe_b64encode(public_raw).rstrip(b"=") in sent[0]

    # A second enrolment of the same data directory is refused (the key and journal stay as they are).
    before = key_file.read_bytes()
    again = run_terminal(data, "enroll", "--server", live_server.url,
                         "--code", enrollment_code(session_factory, world.school.bin))
    assert again.returncode == 2 and "already enrolled" in again.stderr
    assert key_file.read_bytes() == before


def test_record_tells_the_canteen_at_once_and_sync_stores_the_services_verdicts(live_server, session_factory, world,
                                                                               tmp_path):
    data, terminal_id = _enroll(tmp_path, live_server, session_factory, world)
    pupil, other = str(world.eligible[0].id), str(world.eligible[1].id)

    first = run_terminal(data, "record", pupil)
    assert first.returncode == 0 and first.stdout.rstrip().endswith("no roster yet: the service will decide")

    synced = run_terminal(data, "sync")  # fetches the roster, uploads the first meal
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.strip() == "uploaded 1: 1 acknowledged (1 billable), 0 rejected; 0 still queued"

    hints = {}
    for name, student, meal in [("second", pupil, "lunch"), ("yes", other, "lunch"),
                                ("no", str(world.not_eligible.id), "lunch"),
                                ("stranger", str(world.elsewhere.id), "lunch"),
                                ("breakfast", other, "breakfast")]:
        done = run_terminal(data, "record", student, "--meal-type", meal, "--method", "qr")
        assert done.returncode == 0, done.stderr
        hints[name] = done.stdout.strip().split(": ", 1)[1]
    assert hints == {"second": "second lunch today", "yes": "free meal: yes", "no": "free meal: no",
                     "stranger": "not on this school's roster", "breakfast": "free meal: yes"}
    assert [line.split()[1] for line in [first.stdout]] == ["#1"]

    synced = run_terminal(data, "sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.strip() == "uploaded 5: 5 acknowledged (2 billable), 0 rejected; 0 still queued"

    rows = journal_rows(data)
    ledger = {str(e.event_id): e for e in ledger_of(session_factory, terminal_id)}
    assert [r["device_seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert set(ledger) == {r["event_id"] for r in rows}
    for row in rows:
        entry = ledger[row["event_id"]]
        assert row["state"] == "acknowledged" and row["status"] == "recorded"
        assert (row["verdict"], row["reasons"], row["entry_id"], row["position"], row["leaf_hash"]) == (
            entry.verdict, entry.reasons, entry.id, entry.position, entry.leaf_hash.hex())
        assert entry.device_seq == row["device_seq"]
    verdicts = [(r["verdict"], r["reasons"]) for r in rows]
    assert verdicts == [("billable", ""), ("not_billable", "duplicate_meal"), ("billable", ""),
                        ("not_billable", "not_eligible"), ("not_billable", "not_enrolled"), ("billable", "")]

    # The roster is fetched again only when it changed (ETag / 304).
    agent = Agent(data)
    try:
        etag = journal_setting(data, "roster_etag")
        assert etag and agent.refresh_roster() is False
        roster = agent.roster()
        assert roster["school"]["bin"] == world.school.bin and roster["servingDay"] == world.today.isoformat()
        # Tomorrow, before a new roster arrives, the canteen is not told "free meal: yes" from today's.
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        late = agent.record(str(world.eligible[3].id), "lunch", now=tomorrow)
        assert late.hint == f"roster is from {world.today.isoformat()}: the service will decide"
    finally:
        agent.close()


def test_sync_keeps_rejected_events_and_never_sends_them_again(live_server, session_factory, world, tmp_path):
    data, terminal_id = _enroll(tmp_path, live_server, session_factory, world, "a")
    other, _ = _enroll(tmp_path, live_server, session_factory, world, "b")
    assert run_terminal(data, "record", str(world.eligible[0].id)).returncode == 0
    assert run_terminal(other, "record", str(world.eligible[1].id)).returncode == 0
    assert run_terminal(other, "sync").returncode == 0
    foreign_id = journal_rows(other)[0]["event_id"]

    # Events the service must refuse: one it cannot read, one whose eventId another terminal already used.
    db = sqlite3.connect(data / "journal.sqlite3", isolation_level=None)
    db.execute("INSERT INTO events (device_seq, event_id, student_id, meal_type, served_at, method, serving_day) "
               "SELECT 2, '01900000-0000-7000-8000-000000000001', student_id, 'brunch', served_at, method, "
               "serving_day FROM events WHERE device_seq = 1")
    db.execute("INSERT INTO events (device_seq, event_id, student_id, meal_type, served_at, method, serving_day) "
               "SELECT 3, ?, student_id, meal_type, served_at, method, serving_day FROM events WHERE device_seq = 1",
               (foreign_id,))
    db.close()
    assert run_terminal(data, "record", str(world.eligible[2].id)).returncode == 0  # #4

    synced = run_terminal(data, "sync")
    assert synced.returncode == 0, synced.stderr
    lines = synced.stdout.splitlines()
    assert lines[0] == "uploaded 4: 2 acknowledged (2 billable), 2 rejected; 0 still queued"
    assert lines[1].startswith("rejected #2 01900000-0000-7000-8000-000000000001: invalid validation_failed")
    assert lines[2].startswith(f"rejected #3 {foreign_id}: conflict event_id_reused")
    rows = {r["device_seq"]: r for r in journal_rows(data)}
    assert [rows[n]["state"] for n in (1, 2, 3, 4)] == ["acknowledged", "rejected", "rejected", "acknowledged"]
    assert rows[2]["code"] == "validation_failed" and "mealType" in rows[2]["message"]
    assert rows[3]["code"] == "event_id_reused"

    entries_before = len(ledger_of(session_factory))
    again = run_terminal(data, "sync")
    assert again.returncode == 0
    assert again.stdout.strip() == "uploaded 0: 0 acknowledged (0 billable), 0 rejected; 0 still queued"
    assert len(ledger_of(session_factory)) == entries_before
    assert {e.device_seq for e in ledger_of(session_factory, terminal_id)} == {1, 4}

    status = json.loads(run_terminal(data, "status").stdout)
    assert (status["queued"], status["acknowledged"], status["rejected"]) == (0, 2, 2)


def test_status_and_export(live_server, session_factory, world, tmp_path):
    data, terminal_id = _enroll(tmp_path, live_server, session_factory, world)
    fresh = json.loads(run_terminal(data, "status").stdout)
    assert fresh["terminalId"] == terminal_id and fresh["school"] == world.school.bin
    assert fresh["server"] == live_server.url and fresh["lastContact"] is None and fresh["queued"] == 0

    nasty = ["=HYPERLINK(\"http://x\")", "+1+2", "@SUM(A1)", "-3+4", "\tx"]
    assert run_terminal(data, "record", str(world.eligible[0].id)).returncode == 0
    for ref in nasty:
        done = run_terminal(data, "record", "--", ref)
        assert done.returncode == 0, done.stderr
    status = json.loads(run_terminal(data, "status").stdout)
    assert (status["queued"], status["acknowledged"], status["rejected"]) == (6, 0, 0)

    assert run_terminal(data, "sync").returncode == 0
    status = json.loads(run_terminal(data, "status").stdout)
    # The tab is a control character, which no studentId may hold (wallet.text): that event is refused as
    # invalid (rejected, kept in the journal); the other four are recorded, refused as unknown students.
    assert (status["queued"], status["acknowledged"], status["not_billable"], status["rejected"]) == (0, 5, 4, 1)
    assert status["lastContact"] and isinstance(status["clockOffsetMs"], int)
    assert abs(status["clockOffsetMs"]) < 30_000 and status["clockWarning"] is None

    out = tmp_path / "journal.csv"
    done = run_terminal(data, "export", "--out", str(out))
    assert done.returncode == 0 and "exported 6 meals" in done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["device_seq"] for r in table] == ["1", "2", "3", "4", "5", "6"]
    assert [r["student_id"] for r in table[1:]] == ["'" + ref for ref in nasty]
    assert all(r["state"] == "acknowledged" and r["leaf_hash"] for r in table[:-1])
    assert all(r["reasons"] == "unknown_student" for r in table[1:-1])
    assert table[-1]["state"] == "rejected" and not table[-1]["leaf_hash"]
    to_stdout = run_terminal(data, "export")
    assert to_stdout.returncode == 0  # (text mode reads \r\n as \n)
    assert to_stdout.stdout == raw.decode("utf-8").replace("\r\n", "\n")


def test_run_once_and_simulate(live_server, session_factory, world, tmp_path):
    data, terminal_id = _enroll(tmp_path, live_server, session_factory, world)
    for pupil in world.eligible[:3]:
        assert run_terminal(data, "record", str(pupil.id)).returncode == 0
    ran = run_terminal(data, "run", "--once", "--interval", "1", timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "0 queued, 3 acknowledged, 0 rejected"
    assert len(ledger_of(session_factory, terminal_id)) == 3

    codes = [enrollment_code(session_factory, world.school.bin) for _ in range(2)]
    sim = run_terminal(tmp_path / "sim", "simulate", "--server", live_server.url, "--code", codes[0], "--code",
                       codes[1], "--duration", "2", "--meals-per-minute", "600", "--seed", "7", timeout=60)
    assert sim.returncode == 0, sim.stderr
    assert sim.stdout.count("enrolled T-") == 2
    totals = json.loads(sim.stdout.strip().splitlines()[-1].removeprefix("simulation done: "))
    assert totals["recorded"] > 5 and totals["uploaded"] == totals["recorded"] and totals["rejected"] == 0
    simulated = [e for e in ledger_of(session_factory) if e.terminal_id != terminal_id]
    assert len(simulated) == totals["recorded"]
    assert sum(e.verdict == "billable" for e in simulated) == totals["billable"]


def test_a_meal_entered_by_hand_carries_its_reason_to_the_ledger(live_server, session_factory, world, tmp_path):
    """The service requires a manualReason with method manual (the evidence rules read it): the agent asks for
    it, journals it and sends it, and refuses a reason with any other method."""
    from devices.agent import MANUAL_REASONS
    from wallet.evidence.codes import MANUAL_REASONS as SERVICE_REASONS

    assert MANUAL_REASONS == SERVICE_REASONS  # the agent imports nothing from wallet/: the lists kept equal here
    data, terminal_id = _enroll(tmp_path, live_server, session_factory, world)
    pupil = str(world.eligible[0].id)
    missing = run_terminal(data, "record", pupil, "--method", "manual")
    assert missing.returncode != 0 and "needs its reason" in missing.stderr
    stray = run_terminal(data, "record", pupil, "--manual-reason", "card_broken")
    assert stray.returncode != 0 and "only for a meal entered by hand" in stray.stderr
    done = run_terminal(data, "record", pupil, "--method", "manual", "--manual-reason", "card_forgotten")
    assert done.returncode == 0, done.stderr
    synced = run_terminal(data, "sync")
    assert synced.returncode == 0 and "1 acknowledged (1 billable), 0 rejected" in synced.stdout, synced.stdout
    [entry] = ledger_of(session_factory, terminal_id)
    assert (entry.method, entry.manual_reason) == ("manual", "card_forgotten")
    assert '"manualReason":"card_forgotten"' in entry.payload
    assert [r["device_seq"] for r in journal_rows(data)] == [1]  # the refused commands journaled nothing
