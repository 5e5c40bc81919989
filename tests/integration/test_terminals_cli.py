"""`wallet terminals add/list/revoke/gaps`: exit 0 with a one-line answer, or exit 2 with `wallet: why`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main as wallet_cli
from cli.context import EXIT_BAD_INPUT
from tests.factories import TerminalKey, a_bin, uuid7
from wallet.ingest import Batch, MealEvent, record_batch
from wallet.models import Terminal


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {"WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test",
               "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(wallet_cli.cli, ["terminals", *args], env=env, catch_exceptions=False)

    return invoke


def stored(session_factory, terminal_id: str) -> Terminal | None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.get(Terminal, terminal_id)


def test_add_registers_a_terminal(run, session_factory, world) -> None:  # type: ignore[no-untyped-def]
    key = TerminalKey("T-cli-1")
    result = run("add", "--school", world.school.bin, "--public-key", key.public_b64, "--id", "T-cli-1",
                 "--label", "line 1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"registered terminal T-cli-1 for school {world.school.bin}"
    terminal = stored(session_factory, "T-cli-1")
    assert terminal is not None and terminal.status == "active" and terminal.label == "line 1"
    assert terminal.public_key == key.public_b64 and terminal.school_id == world.school.id


def test_add_without_an_id_makes_one(run, session_factory, world) -> None:  # type: ignore[no-untyped-def]
    result = run("add", "--school", world.school.bin, "--public-key", TerminalKey().public_b64)
    assert result.exit_code == 0
    terminal_id = result.stdout.split()[2]
    assert terminal_id.startswith("T-") and stored(session_factory, terminal_id) is not None


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown school", "no school with BIN"),
        ("key not base64", "publicKey is not base64"),
        ("key of the wrong length", "publicKey must be a raw 32-byte Ed25519 key"),
        ("duplicate id", "terminal T-test-1 already exists"),
        ("bad id", "terminal id is not well formed"),
    ],
)
def test_add_refuses_bad_input_with_exit_2(case, message, run, session_factory, world,  # type: ignore[no-untyped-def]
                                           terminal_key) -> None:
    school, public_key, terminal_id = world.school.bin, TerminalKey().public_b64, "T-cli-2"
    if case == "unknown school":
        school = a_bin(9)
    elif case == "key not base64":
        public_key = "not-a-key"
    elif case == "key of the wrong length":
        public_key = public_key + "AAAA"
    elif case == "duplicate id":
        terminal_id = terminal_key.terminal_id
    else:
        terminal_id = "bad id!"
    result = run("add", "--school", school, "--public-key", public_key, "--id", terminal_id)
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith("wallet: ") and message in result.stderr
    assert result.stdout == ""
    with session_factory() as session:
        assert session.scalars(select(Terminal.id)).all() == [terminal_key.terminal_id]
        assert session.get(Terminal, terminal_key.terminal_id).public_key == terminal_key.public_b64


def test_add_without_a_school_is_a_usage_error(run, world) -> None:  # type: ignore[no-untyped-def]
    result = run("add", "--public-key", TerminalKey().public_b64)
    assert result.exit_code == 2 and "Missing option '--school'" in result.stderr


def test_list_shows_terminals_with_status_and_last_contact(run, session_factory, world,  # type: ignore[no-untyped-def]
                                                           terminal_key) -> None:
    other = TerminalKey("T-other-1")
    with session_factory() as session:
        other.register(session, world.other_school)
    result = run("list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"T-other-1\t{world.other_school.bin}\tactive\tlast contact never",
        f"T-test-1\t{world.school.bin}\tactive\tlast contact never",
    ]
    only = run("list", "--school", world.school.bin)
    assert only.stdout.splitlines() == [f"T-test-1\t{world.school.bin}\tactive\tlast contact never"]
    assert run("list", "--school", a_bin(9)).stdout == ""


def test_revoke_then_revoke_again(run, session_factory, world, terminal_key) -> None:  # type: ignore[no-untyped-def]
    result = run("revoke", terminal_key.terminal_id)
    assert result.exit_code == 0 and result.stdout.strip() == "revoked terminal T-test-1"
    terminal = stored(session_factory, terminal_key.terminal_id)
    assert terminal.status == "revoked" and terminal.revoked_at is not None
    again = run("revoke", terminal_key.terminal_id)
    assert again.exit_code == EXIT_BAD_INPUT and "already revoked" in again.stderr
    assert run("list").stdout.split("\t")[2] == "revoked"


def test_revoke_an_unknown_terminal(run, world) -> None:  # type: ignore[no-untyped-def]
    result = run("revoke", "T-nobody")
    assert result.exit_code == EXIT_BAD_INPUT and result.stderr.strip() == "wallet: no terminal T-nobody"


def _record(session_factory, terminal_id: str, world, seqs: list[int]) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    events = [MealEvent(index=i, event_id=uuid7(now), device_seq=seq, student_ref=str(world.eligible[i % 5].id),
                        meal_type="lunch", served_at=now, method="roster") for i, seq in enumerate(seqs)]
    with session_factory() as session:
        terminal = session.get(Terminal, terminal_id)
        record_batch(session, terminal, Batch(terminal_id=terminal_id, sent_at=now, received_at=now, events=events),
                     clock_tolerance=dt.timedelta(minutes=15))


def test_gaps_lists_the_missing_runs(run, session_factory, world, terminal_key) -> None:  # type: ignore[no-untyped-def]
    _record(session_factory, terminal_key.terminal_id, world, [1, 2, 5, 9])
    result = run("gaps", terminal_key.terminal_id)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "T-test-1: highest deviceSeq 9, 2 gaps",
        "  missing 3-4",
        "  missing 6-8",
    ]
    listed = run("list").stdout
    assert "last contact never" not in listed


def test_gaps_without_events_and_of_an_unknown_terminal(run, world, terminal_key) -> None:  # type: ignore[no-untyped-def]
    result = run("gaps", terminal_key.terminal_id)
    assert result.exit_code == 0 and result.stdout.splitlines() == ["T-test-1: highest deviceSeq 0, 0 gaps"]
    unknown = run("gaps", "T-nobody")
    assert unknown.exit_code == EXIT_BAD_INPUT and unknown.stderr.strip() == "wallet: no terminal T-nobody"
