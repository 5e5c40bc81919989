"""Verification runs on both databases: `wallet verify` records every run (ok, mismatch naming the exact
entry, error), recording never changes what the check reports or its exit status, `--history` lists runs,
and the database keeps the table append-only (triggers; on PostgreSQL TRUNCATE and the application role too)."""

# The CLI fixtures (run, chain, dev_key, instance) are shared with test_ledger_verify by import, so test
# arguments take the imported fixtures' names.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests.integration.test_ledger_verify import (  # noqa: F401 - fixtures
    BIN_A,
    BIN_B,
    N,
    _build,
    _ids_by_position,
    chain,
    dev_key,
    instance,
    run,
    tamper,
)
from wallet.ledger import runs as runs_module
from wallet.ledger import verify as verify_module
from wallet.ledger.run_history import list_runs
from wallet.models import VerificationRun


def _runs(session_factory) -> list[VerificationRun]:
    with session_factory() as session:
        return list(session.scalars(select(VerificationRun).order_by(VerificationRun.id)))


def test_a_clean_run_is_recorded_with_what_it_checked(run, chain, dev_key, session_factory):
    _build(session_factory, BIN_B, 3, device_offset=1000)
    assert run("checkpoint").exit_code == 0
    result = run("verify")
    assert result.exit_code == 0, result.output
    [recorded] = _runs(session_factory)
    assert (recorded.via, recorded.actor, recorded.school_id, recorded.result) == ("cli", "cli", None, "ok")
    assert (recorded.chains_checked, recorded.entries_checked, recorded.checkpoints_checked) == (2, N + 3, 2)
    assert recorded.chains_failed == 0 and recorded.problem is None and recorded.problem_entry_id is None
    assert recorded.started_at.tzinfo is not None and recorded.finished_at >= recorded.started_at
    assert recorded.software_version == runs_module.software_version() != ""

    assert run("verify", "--school", BIN_A).exit_code == 0
    latest = _runs(session_factory)[-1]
    assert latest.school_id == chain and latest.chains_checked == 1 and latest.entries_checked == N


def test_a_tampered_entry_gives_a_mismatch_run_naming_it(run, chain, dev_key, engine, session_factory):
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET price_tiyn = 99999 WHERE id = :id", {"id": ids[4]}))
    result = run("verify")
    assert result.exit_code == 1  # as before: the record changes nothing about the check
    assert f"FAILED {BIN_A} entry at position 4 (id {ids[4]})" in result.output
    [recorded] = _runs(session_factory)
    assert recorded.result == "mismatch" and recorded.chains_failed == 1
    assert (recorded.problem_school_id, recorded.problem_kind, recorded.problem_position,
            recorded.problem_entry_id) == (chain, "entry", 4, ids[4])
    assert "columns differ" in recorded.problem and "priceTiyn" in recorded.problem

    history = run("verify", "--history")
    assert history.exit_code == 0
    assert re.search(rf"^#{recorded.id} \S+ \S+ UTC, \S+ s, cli by cli, all schools: 1 chain, {N} entries, "
                     rf"0 checkpoints: MISMATCH \(v\S+\); first problem at school {BIN_A}: entry at position 4 "
                     rf"\(id {ids[4]}\)", history.output, re.M), history.output


def test_a_deleted_entry_is_named_by_its_position(run, chain, dev_key, engine, session_factory):
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("DELETE FROM ledger_entries WHERE id = :id", {"id": ids[3]}))
    assert run("verify", "--school", BIN_A).exit_code == 1
    [recorded] = _runs(session_factory)
    assert (recorded.result, recorded.problem_position, recorded.problem_entry_id) == ("mismatch", 3, None)
    assert f"missing; the next entry is at position 4 (id {ids[4]})" in recorded.problem


def test_a_failure_to_record_changes_neither_output_nor_exit_status(run, chain, dev_key, engine, session_factory,
                                                                     monkeypatch):
    def broken(*_args, **_kwargs):
        raise OperationalError("INSERT INTO verification_runs", {}, Exception("disk I/O error"))

    monkeypatch.setattr(runs_module, "record_run", broken)
    clean = run("verify")
    assert clean.exit_code == 0 and clean.output.startswith(f"OK     {BIN_A} size {N} ")
    assert "warning: this run was not recorded (OperationalError: " in clean.output
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET price_tiyn = 99999 WHERE id = :id", {"id": ids[2]}))
    failed = run("verify")
    assert failed.exit_code == 1 and f"FAILED {BIN_A} entry at position 2 (id {ids[2]})" in failed.output
    assert _runs(session_factory) == []


def test_a_check_that_breaks_is_recorded_as_an_error(run, chain, dev_key, session_factory, monkeypatch):
    def breaks(*_args, **_kwargs):
        raise RuntimeError("the disk went away\nand more detail")

    monkeypatch.setattr(verify_module, "verify_chain", breaks)
    with pytest.raises(RuntimeError):
        run("verify")
    [recorded] = _runs(session_factory)
    assert (recorded.result, recorded.problem, recorded.problem_kind) == (
        "error", "RuntimeError: the disk went away", None)


def test_an_unknown_school_records_nothing(run, chain, dev_key, session_factory):
    assert run("verify", "--school", "999999999999").exit_code == 2
    assert run("verify", "--history", "--school", "999999999999").exit_code == 2
    assert _runs(session_factory) == []


def test_history_lists_newest_first_within_the_limit(run, chain, dev_key, session_factory):
    assert run("verify", "--history").output.strip() == "no verification runs recorded"
    for _ in range(3):
        assert run("verify").exit_code == 0
    assert run("verify", "--school", BIN_A).exit_code == 0
    ids = [r.id for r in _runs(session_factory)]
    listed = run("verify", "--history", "--limit", "2").output.splitlines()
    assert [line.split()[0] for line in listed] == [f"#{ids[3]}", f"#{ids[2]}"]
    assert f" cli by cli, school {BIN_A}: 1 chain, " in listed[0] and " cli by cli, all schools: 1 chain, " in listed[1]
    assert run("verify", "--history", "--limit", "0").exit_code == 2
    with session_factory() as session:
        assert [v.id for v in list_runs(session, None, before_id=ids[2])] == [ids[1], ids[0]]


# --- append-only ------------------------------------------------------------------------------------


@pytest.fixture
def recorded(run, chain, dev_key, session_factory) -> int:
    assert run("verify").exit_code == 0
    return _runs(session_factory)[0].id


@pytest.mark.parametrize("statement", ["UPDATE verification_runs SET result = 'mismatch', problem = 'x'",
                                       "UPDATE verification_runs SET actor = 'someone else'",
                                       "DELETE FROM verification_runs"])
def test_the_table_refuses_update_and_delete(session_factory, recorded, statement):
    with session_factory() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    [still] = _runs(session_factory)
    assert (still.id, still.result, still.actor) == (recorded, "ok", "cli")


def test_orm_changes_are_refused_too(session_factory, recorded):
    for change in ("update", "delete"):
        with session_factory() as session:
            row = session.get(VerificationRun, recorded)
            if change == "update":
                row.result = "mismatch"
                row.problem = "made up"
            else:
                session.delete(row)
            with pytest.raises(DBAPIError, match="append-only"):
                session.flush()
            session.rollback()
    assert [r.result for r in _runs(session_factory)] == ["ok"]


def test_postgresql_refuses_truncate_and_the_application_role_may_only_read_and_append(engine, session_factory,
                                                                                        recorded):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with session_factory() as session:
        with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"):
            session.execute(text("TRUNCATE verification_runs"))
        session.rollback()
    for statement in ("UPDATE verification_runs SET actor = 'x'", "DELETE FROM verification_runs",
                      "TRUNCATE verification_runs"):
        with session_factory() as session:
            session.execute(text("SET LOCAL ROLE wallet_app"))
            with pytest.raises(DBAPIError, match="permission denied for table"):
                session.execute(text(statement))
            session.rollback()
    with session_factory() as session:
        session.execute(text("SET LOCAL ROLE wallet_app"))
        tally = runs_module.RunTally(via="cli", actor="cli", school_bin=None)
        session.add(VerificationRun(
            started_at=tally.started_at, finished_at=tally.started_at, via="cli", actor="cli", chains_checked=0,
            entries_checked=0, checkpoints_checked=0, chains_failed=0, result="ok", software_version="test"))
        session.commit()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRun)) == 2
