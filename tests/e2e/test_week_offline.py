"""A week offline, with real processes on SQLite and PostgreSQL: one roster fetched on the first day, seven
serving days (and a holiday) of meals recorded with the service unreachable, the agent killed with SIGKILL on
some of them, then a reconnection. The agent and the service take their time from the test's clock file
(WALLET_TEST_CLOCK_FILE, honoured only with WALLET_ENV=test), so "a week" is a week for both.

Afterwards: every meal of the journal is in the ledger exactly once, deviceSeq has no gap, and each verdict is
what the terminal's offline hint said on that day, as an online day would have given it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.factories import an_iin
from tests.live_server import WALLET_TERMINAL, enrollment_code, journal_rows, journal_setting, ledger_of, run_terminal
from tests.voucher_factories import voucher_for
from wallet.ledger.verify import verify_chain
from wallet.models import (
    CalendarDay,
    ChildAllergy,
    Enrollment,
    Menu,
    MenuDish,
    Student,
    StudentEligibility,
    Terminal,
)
from wallet.terminals import sequence_gaps

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("Asia/Almaty")
# What the terminal told the cook offline -> the verdict the service must reach on reconnection.
EXPECTED = {"free meal: yes": ("billable", ""), "second lunch today": ("not_billable", "duplicate_meal"),
            "second breakfast today": ("not_billable", "duplicate_meal"),
            "free meal: no": ("not_billable", "not_eligible"),
            "not on this school's roster that day": ("not_billable", "not_enrolled"),
            "free meal: no (not a serving day: holiday)": ("not_billable", "not_serving_day")}


class Clock:
    """The test's clock file: the service and the agent read it on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
        at = dt.datetime.combine(day, dt.time(hour, minute), ZONE)
        self.path.write_text(at.astimezone(dt.UTC).isoformat(), encoding="utf-8")
        return at


def _school_week(session_factory, world) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Serving days today..today+8 except a holiday at today+2, a lunch menu each day (milk on today+3), a pupil
    whose eligibility ends after today+1, a pupil enrolled from today+4, and one with a milk allergy."""
    today = world.today
    holiday = today + dt.timedelta(days=2)
    days = [today + dt.timedelta(days=n) for n in range(1, 9)]
    with session_factory() as session:
        for day in days:
            kind = "holiday" if day == holiday else "serving"
            session.add(CalendarDay(school_id=world.school.id, day=day, kind=kind))
            session.add(Menu(school_id=world.school.id, day=day, meal_type="lunch", dishes=[
                MenuDish(position=1, name_kk="Ботқа", name_ru="Каша", name_en="Porridge", grams=200, kcal=250,
                         allergens="milk" if day == today + dt.timedelta(days=3) else "")]))
        ending = world.eligible[3]
        eligibility = session.query(StudentEligibility).filter_by(student_id=ending.id).one()
        eligibility.valid_to = today + dt.timedelta(days=1)
        newcomer = Student(id=uuid.uuid4(), iin=an_iin(dt.date(2018, 5, 5)), last_name="Жаңа", first_name="Айша")
        session.add(newcomer)
        session.flush()
        start = today + dt.timedelta(days=4)
        session.add(Enrollment(student_id=newcomer.id, school_id=world.school.id, grade=1, class_name="1А",
                               valid_from=start, valid_to=None))
        session.add(StudentEligibility(student_id=newcomer.id, category_code="primary_grades",
                                       valid_from=world.contract.valid_from, valid_to=world.contract.valid_to))
        allergic = world.eligible[4]
        session.add(ChildAllergy(student_id=allergic.id, allergens="milk", updated_at=dt.datetime.now(dt.UTC),
                                 updated_by="1" * 12))
        session.commit()
        voucher_for(session, allergic, world.school.id, "active", today=today, parent_iin="1" * 12)
        newcomer_id = str(newcomer.id)
    serving = [today, *[d for d in days if d != holiday]]
    return {"serving": serving[:7], "holiday": holiday, "next": serving[7], "newcomer": newcomer_id,
            "milk_day": today + dt.timedelta(days=3)}


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **env})


def _kill9(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)


def _kill_the_upload_loop(data: Path, env: dict[str, str]) -> None:
    """`wallet-terminal run` finds the service unreachable; killed with SIGKILL once it has said so."""
    loop = _spawn([WALLET_TERMINAL, "--data-dir", str(data), "run", "--interval", "1"], env)
    assert loop.stderr is not None
    line = loop.stderr.readline()
    assert "unreachable" in line and "trying again" in line, line
    _kill9(loop)


def _kill_a_recording_loop(data: Path, env: dict[str, str], pupils: list[str]) -> None:
    """Breakfasts recorded in a loop, killed with SIGKILL after the third the agent reported (the fourth may be
    half written: whatever the journal holds is what must reach the ledger)."""
    script = ('while :; do for s in $PUPILS; do "$WT" --data-dir "$DATA" record "$s" --meal-type breakfast '
              '|| exit 9; done; done')
    loop = _spawn(["sh", "-c", script], {**env, "WT": WALLET_TERMINAL, "DATA": str(data), "PUPILS": " ".join(pupils)})
    assert loop.stdout is not None
    for _ in range(3):
        assert loop.stdout.readline().startswith("recorded #")
    _kill9(loop)


def test_a_week_offline_then_a_reconnection_loses_and_doubles_nothing(start_server, session_factory, world,
                                                                      tmp_path):
    week = _school_week(session_factory, world)
    serving: list[dt.date] = week["serving"]  # type: ignore[assignment]
    clock = Clock(tmp_path / "clock")
    clock.set(serving[0], 7)
    env = {"WALLET_ENV": "test", "WALLET_TEST_CLOCK_FILE": str(clock.path)}
    server = start_server(env={"WALLET_TEST_CLOCK_FILE": str(clock.path), "WALLET_MAX_BATCH_EVENTS": "20"})
    data = tmp_path / "terminal"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", server.url, "--code", code, env=env).returncode == 0
    terminal_id = journal_setting(data, "terminal_id")
    synced = run_terminal(data, "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    roster = json.loads(journal_setting(data, "roster") or "{}")
    assert [w["servingDay"] for w in roster["week"]] == [d.isoformat() for d in serving]

    server.kill()  # the school's connection is gone for the week
    pupils = [str(p.id) for p in world.eligible]
    hints: list[str] = []

    def record(student: str, *extra: str) -> subprocess.CompletedProcess[str]:
        done = run_terminal(data, "record", student, *extra, env=env)
        if done.returncode == 0:
            hints.append(done.stdout.strip().split(": ", 1)[1])
        return done

    for n, day in enumerate(serving):
        clock.set(day)
        for pupil in [*pupils, str(world.not_eligible.id), week["newcomer"]]:
            done = record(pupil)  # type: ignore[arg-type]
            if done.returncode == 5:  # the milk day: the warning first, then the cook's confirmation
                assert day == week["milk_day"] and pupil == pupils[4]
                assert "allergic to milk" in done.stderr
                assert record(pupil, "--confirm-allergens").returncode == 0
            else:
                assert done.returncode == 0, done.stderr
        assert record(pupils[0]).returncode == 0  # a second lunch
        if n in (1, 3, 5):
            _kill_the_upload_loop(data, env)
        if n == 4:
            _kill_a_recording_loop(data, env, pupils[:2])
        if n == 1:  # the holiday after this day: someone records a meal anyway
            clock.set(week["holiday"])  # type: ignore[arg-type]
            assert record(pupils[1]).returncode == 0

    rows = journal_rows(data)
    assert {r["state"] for r in rows} == {"queued"}  # the journal held the whole week
    assert {r["serving_day"] for r in rows} == {d.isoformat() for d in [*serving, week["holiday"]]}
    clock.set(week["next"], 9)  # type: ignore[arg-type]
    status = json.loads(run_terminal(data, "status", env=env).stdout)
    assert status["queuedMeals"] == len(rows)
    assert status["oldestUnsentAgeS"] >= 7 * 86400

    server.start()  # the connection is back
    synced = run_terminal(data, "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.strip().endswith("0 still queued")

    rows = journal_rows(data)
    ledger = ledger_of(session_factory, terminal_id)
    assert Counter(str(e.event_id) for e in ledger) == Counter(r["event_id"] for r in rows)  # 0 lost, 0 doubled
    with session_factory() as session:
        highest, gaps = sequence_gaps(session, terminal_id or "")
        terminal = session.get(Terminal, terminal_id)
        assert terminal is not None and terminal.backlog_count == 0
        assert verify_chain(session, world.school.id, {}).ok  # the week's entries, the confirmed warning too
    assert highest == len(rows) and gaps == []
    assert [r["device_seq"] for r in rows] == list(range(1, len(rows) + 1))
    by_event = {str(e.event_id): e for e in ledger}
    told = Counter()
    for row in rows:
        entry = by_event[row["event_id"]]
        hint = row["local_hint"].split("; ")[0]
        told[hint] += 1
        assert (entry.verdict, entry.reasons) == EXPECTED[hint], (row["serving_day"], row["student_id"], hint)
        assert entry.serving_day.isoformat() == row["serving_day"]
        assert (row["verdict"], row["entry_id"]) == (entry.verdict, entry.id)
    assert told["free meal: no (not a serving day: holiday)"] == 1
    assert told["not on this school's roster that day"] == 3  # the newcomer before the day they start
    assert [e.allergen_warning for e in ledger].count("confirmed") == 1
    status = json.loads(run_terminal(data, "status", env=env).stdout)
    assert status["queuedMeals"] == 0 and status["oldestUnsentAgeS"] is None
    assert status["lastSuccessfulUpload"].startswith(week["next"].isoformat())  # type: ignore[union-attr]
    assert status["lastUploads"]["rejected"] == 0
