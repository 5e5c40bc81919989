"""The allergen alert at the serving line, with a real gunicorn: the child's allergen in the dish warns and
needs the cook's confirmation; no warning otherwise; an unconfirmed warning records nothing; a pupil the
roster does not know is said to have unknown allergies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from devices import cli as terminal_cli
from devices.agent import Agent
from devices.cli import EXIT_ALLERGEN
from tests.live_server import enrollment_code, journal_rows, journal_setting, ledger_of, run_terminal
from tests.qr_factories import make_token, qr_key
from tests.voucher_factories import voucher_for
from wallet.models import ChildAllergy, Voucher


def _enrolled(tmp_path: Path, server, session_factory, world) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    data = tmp_path / "t1"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", server.url, "--code", code).returncode == 0
    return data, journal_setting(data, "terminal_id") or ""


def _declare(session_factory, world, student, codes: str) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        voucher_for(session, student, world.school.id, "active", today=world.today, parent_iin="1" * 12)
        session.add(ChildAllergy(student_id=student.id, allergens=codes, updated_at=dt.datetime.now(dt.UTC),
                                 updated_by="1" * 12))
        session.commit()


def test_an_allergen_in_the_dish_needs_the_cooks_confirmation(live_server, session_factory, world, tmp_path):
    allergic, other, clear = world.eligible[0], world.eligible[1], world.eligible[2]
    _declare(session_factory, world, allergic, "gluten,milk")  # today's lunch soup holds gluten
    _declare(session_factory, world, clear, "fish")
    data, terminal_id = _enrolled(tmp_path, live_server, session_factory, world)
    assert run_terminal(data, "sync").returncode == 0  # the roster, with the allergens

    refused = run_terminal(data, "record", str(allergic.id))
    assert refused.returncode == EXIT_ALLERGEN
    assert "ALLERGEN WARNING: contains gluten (Суп); allergic to gluten" in refused.stderr
    assert "nothing recorded" in refused.stderr and refused.stdout == ""
    assert journal_rows(data) == []  # an unconfirmed warning records no meal

    # Breakfast has no menu today: the cook is told to check the dishes, nothing to confirm.
    breakfast = run_terminal(data, "record", str(allergic.id), "--meal-type", "breakfast")
    assert breakfast.returncode == 0 and "no breakfast menu" in breakfast.stderr

    served = run_terminal(data, "record", str(allergic.id), "--confirm-allergens")
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip().endswith("free meal: yes")
    assert "allergic to gluten (confirmed by the cook)" in served.stderr
    for pupil in (other, clear):  # no allergies declared / none in the dish: no warning at all
        plain = run_terminal(data, "record", str(pupil.id))
        assert plain.returncode == 0 and plain.stderr == "", plain.stderr

    assert run_terminal(data, "sync").returncode == 0
    rows = journal_rows(data)
    assert [r["allergen_warning"] for r in rows] == [None, "confirmed", None, None]
    ledger = {str(e.event_id): e for e in ledger_of(session_factory, terminal_id)}
    assert [ledger[r["event_id"]].allergen_warning for r in rows] == [None, "confirmed", None, None]
    assert all(ledger[r["event_id"]].verdict == "billable" for r in rows[1:])


def test_allergies_unknown_to_the_terminal_are_said_to_be_unknown(live_server, session_factory, world, tmp_path):
    data, _ = _enrolled(tmp_path, live_server, session_factory, world)
    before = run_terminal(data, "record", str(world.eligible[0].id))  # no roster yet
    assert before.returncode == 0 and "allergies unknown: this terminal has no allergen list yet" in before.stderr
    assert run_terminal(data, "sync").returncode == 0
    stranger = run_terminal(data, "record", str(world.elsewhere.id))  # e.g. a new pupil, not on the roster
    assert stranger.returncode == 0
    assert "allergies unknown: pupil not on the roster (new pupil?)" in stranger.stderr


def test_allergen_lists_leave_the_terminal_with_the_roster_they_came_in(live_server, session_factory, world,
                                                                        tmp_path):
    _declare(session_factory, world, world.eligible[0], "gluten")
    data, _ = _enrolled(tmp_path, live_server, session_factory, world)
    assert run_terminal(data, "sync").returncode == 0
    assert '"allergies"' in (journal_setting(data, "roster") or "")
    agent = Agent(data)
    try:
        # The day after the last one the roster speaks for (the world has one serving day), offline.
        later = dt.datetime.combine(world.today + dt.timedelta(days=1), dt.time(7), dt.UTC)
        recorded = agent.record(str(world.eligible[0].id), "lunch", now=later)
        assert recorded.allergen.status == "unknown" and "does not reach" in recorded.allergen.message
    finally:
        agent.close()
    stored = journal_setting(data, "roster") or ""
    assert '"allergies"' not in stored and '"voucherAllergies"' not in stored and "gluten" not in stored.split(
        '"menu"')[0]
    assert journal_rows(data)[0]["local_hint"].endswith("; allergies unknown")


def test_at_a_keyboard_the_cook_is_asked(live_server, session_factory, world, tmp_path, monkeypatch):
    _declare(session_factory, world, world.eligible[0], "gluten")
    data, _ = _enrolled(tmp_path, live_server, session_factory, world)
    assert run_terminal(data, "sync").returncode == 0
    monkeypatch.setattr(terminal_cli, "_at_keyboard", lambda: True)
    args = ["--data-dir", str(data), "record", str(world.eligible[0].id)]
    declined = CliRunner().invoke(terminal_cli.cli, args, input="n\n")
    assert declined.exit_code == EXIT_ALLERGEN and "serve this meal anyway?" in declined.output
    assert journal_rows(data) == []
    accepted = CliRunner().invoke(terminal_cli.cli, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [r["allergen_warning"] for r in journal_rows(data)] == ["confirmed"]


def test_a_qr_meal_is_checked_by_the_vouchers_allergens(live_server, session_factory, world, settings, tmp_path):
    _declare(session_factory, world, world.eligible[0], "gluten")
    with session_factory() as session:
        voucher = session.query(Voucher).filter_by(student_id=world.eligible[0].id).one()
    data, terminal_id = _enrolled(tmp_path, live_server, session_factory, world)
    assert run_terminal(data, "sync").returncode == 0
    token = make_token(qr_key(settings), voucher, world.school.bin)
    refused = run_terminal(data, "record", "--qr", token)
    assert refused.returncode == EXIT_ALLERGEN and "allergic to gluten" in refused.stderr
    served = run_terminal(data, "record", "--qr", token, "--confirm-allergens")
    assert served.returncode == 0, served.stderr  # the refusal did not mark the token used
    assert run_terminal(data, "sync").returncode == 0
    [entry] = ledger_of(session_factory, terminal_id)
    assert entry.allergen_warning == "confirmed" and entry.voucher_id == voucher.id
