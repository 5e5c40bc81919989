"""`wallet-terminal record --qr`: offline checks of dynamic QR tokens against a real gunicorn (both databases)."""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import requests

from devices.agent import Agent
from tests.live_server import enrollment_code, journal_rows, journal_setting, ledger_of, run_terminal
from tests.parent_factories import PARENT_IIN, link
from tests.qr_factories import add_voucher, make_token, qr_key
from wallet.ledger.signing import SigningKey

EXIT_BAD_INPUT, EXIT_REFUSED = 2, 4


@pytest.fixture
def voucher(session_factory, world):
    with session_factory() as session:
        return add_voucher(session, world.eligible[0], world.school.id)


def _enrolled(tmp_path: Path, server, session_factory, world) -> Path:  # type: ignore[no-untyped-def]
    data = tmp_path / "t1"
    done = run_terminal(data, "enroll", "--server", server.url, "--code",
                        enrollment_code(session_factory, world.school.bin))
    assert done.returncode == 0, done.stderr
    return data


def _flip(token: str, byte: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    raw[byte] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_token_from_the_parent_app_is_served_once_and_billed(live_server, session_factory, world, voucher,
                                                               settings, tmp_path):
    from api.auth import dev_idp

    data = _enrolled(tmp_path, live_server, session_factory, world)
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
    parent = dev_idp.issue_token(settings, PARENT_IIN, {"role": "parent"})
    answer = requests.post(f"{live_server.url}/api/v1/parent/children/{world.eligible[0].id}/qr",
                           json={"mealType": "lunch"}, headers={"Authorization": f"Bearer {parent}"}, timeout=30)
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]

    offline = run_terminal(data, "record", "--qr", token)
    assert offline.returncode == EXIT_BAD_INPUT and "sync" in offline.stderr  # no roster (no QR keys) yet
    assert run_terminal(data, "sync").returncode == 0

    served = run_terminal(data, "record", "--qr", token, "--meal-type", "lunch")
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip().endswith("free meal: yes")
    again = run_terminal(data, "record", "--qr", token)
    assert again.returncode == EXIT_REFUSED and again.stderr.startswith("free meal: no")
    assert "already used" in again.stderr

    synced = run_terminal(data, "sync")
    assert synced.stdout.strip() == "uploaded 1: 1 acknowledged (1 billable), 0 rejected; 0 still queued"
    [row] = journal_rows(data)
    assert row["method"] == "qr" and row["student_id"] == "" and row["verdict"] == "billable"
    [entry] = ledger_of(session_factory, journal_setting(data, "terminal_id"))
    assert entry.voucher_id == voucher.id and entry.student_id == world.eligible[0].id


def test_the_terminal_refuses_bad_tokens_at_once(live_server, session_factory, world, voucher, settings, tmp_path):
    data = _enrolled(tmp_path, live_server, session_factory, world)
    assert run_terminal(data, "sync").returncode == 0
    key = qr_key(settings)
    good = make_token(key, voucher, world.school.bin)
    past = time.time() - 3600
    cases = {
        "forged": _flip(good, 40),
        "not a valid meal token": make_token(SigningKey.generate(), voucher, world.school.bin),
        "garbage": "definitely-not-a-token",
        "expired": make_token(key, voucher, world.school.bin, not_before=past, lifetime_s=300),
        "another school": make_token(key, voucher, world.other_school.bin),
        "for breakfast": make_token(key, voucher, world.school.bin, meal_type="breakfast"),
    }
    for words, token in cases.items():
        done = run_terminal(data, "record", "--qr", token, "--meal-type", "lunch")
        assert done.returncode == EXIT_REFUSED, (words, done.stdout, done.stderr)
        assert done.stderr.startswith("free meal: no"), (words, done.stderr)
    assert journal_rows(data) == []  # nothing was journaled
    both = run_terminal(data, "record", str(world.eligible[0].id), "--qr", good)
    assert both.returncode == EXIT_BAD_INPUT
    neither = run_terminal(data, "record")
    assert neither.returncode == EXIT_BAD_INPUT


def test_a_journal_made_before_qr_tokens_is_brought_up_to_date(tmp_path):
    data = tmp_path / "old"
    data.mkdir()
    db = sqlite3.connect(data / "journal.sqlite3")
    db.executescript("""
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE events (device_seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, student_id TEXT NOT NULL,
            meal_type TEXT NOT NULL, served_at TEXT NOT NULL, method TEXT NOT NULL, serving_day TEXT NOT NULL,
            local_hint TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'queued', status TEXT, verdict TEXT,
            reasons TEXT, entry_id INTEGER, position INTEGER, leaf_hash TEXT, code TEXT, message TEXT,
            answered_at TEXT);
        INSERT INTO events (device_seq, event_id, student_id, meal_type, served_at, method, serving_day)
            VALUES (1, 'e1', 's1', 'lunch', '2026-11-30T06:00:00.000Z', 'roster', '2026-11-30');
    """)
    db.close()
    agent = Agent(data)
    try:
        [queued] = agent.journal.queued(10)
        assert queued.as_json()["studentId"] == "s1" and "qrToken" not in queued.as_json()
        seq = agent.journal.append(str(uuid.uuid4()), "", "lunch", dt.datetime.now(dt.UTC), "qr", "2026-11-30",
                                   qr_token="abc", qr_token_id="t1", qr_expires=1)
        assert seq == 2 and agent.journal.token_seen("t1")
        assert agent.journal.queued(10)[1].as_json()["qrToken"] == "abc"
    finally:
        agent.close()


def test_simulated_parents_apps_fetch_qr_codes_for_the_terminals(live_server, session_factory, world, voucher,
                                                                 settings, tmp_path):
    import json

    from api.auth import dev_idp

    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
    tokens = tmp_path / "parents.txt"
    tokens.write_text(dev_idp.issue_token(settings, PARENT_IIN, {"role": "parent"}) + "\n", encoding="utf-8")
    code = enrollment_code(session_factory, world.school.bin)
    sim = run_terminal(tmp_path / "sim", "simulate", "--server", live_server.url, "--code", code, "--duration", "3",
                       "--meals-per-minute", "300", "--seed", "3", "--parent-tokens", str(tokens), "--qr-share", "1",
                       "--stamp", "now", timeout=90)  # QR codes are live: at any hour of the test's clock
    assert sim.returncode == 0, sim.stderr
    totals = json.loads(sim.stdout.strip().splitlines()[-1].removeprefix("simulation done: "))
    assert totals["qr"] >= 1 and totals["rejected"] == 0
    entries = [e for e in ledger_of(session_factory) if e.method == "qr"]
    assert len(entries) == totals["qr"] and all(e.voucher_id == voucher.id for e in entries)
    # One child, one voucher: the first QR lunch is billable, the others are the same child's second lunch.
    assert [e.verdict for e in entries].count("billable") == 1
