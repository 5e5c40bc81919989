"""The SQLite file of the default setup can no longer be written (its disk is full, or the file or the disk is
read-only): every write is answered with a clear 503 `storage_unavailable` and a Retry-After, the operator's
log says what is wrong in one line, the file stays intact (integrity_check, `wallet verify`), nothing
acknowledged is lost, and once the fault is gone the terminal's retry is recorded once.

Faults are made inside SQLite, so the test needs no privileges: `PRAGMA query_only` (what a read-only file or
mount gives: SQLITE_READONLY) and `PRAGMA max_page_count` (what a full disk gives: SQLITE_FULL). Where the
tests do not run as root, a really read-only file is tried as well (root ignores file permissions).
PostgreSQL's equivalents (SQLSTATE 53100 disk full, 25006 read-only) are mapped by api/errors.py too; a
PostgreSQL restart is the on-demand drill in tests/bench/faults_postgres.py.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select

from api import create_app
from cli.main import cli
from tests.factories import batch, meal_event
from wallet.db import make_engine
from wallet.models import LedgerEntry

EVENTS = "/api/v1/terminal/events"


@pytest.fixture
def sqlite_only(database_url: str) -> Path:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite file of the default setup")
    return Path(database_url.removeprefix("sqlite:///"))


def _faulty_app(quiet_settings, pragma: str):  # type: ignore[no-untyped-def]
    """The app on the same file, with every connection it opens under `pragma`; the fault can be lifted."""
    engine = make_engine(quiet_settings.database_url)
    state = {"on": True}

    @event.listens_for(engine, "connect")
    def _fault(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        if state["on"]:
            dbapi_connection.execute(pragma)

    def lift() -> None:
        state["on"] = False
        engine.dispose()  # new connections, without the fault

    return create_app(quiet_settings, engine=engine), lift, engine


def _count(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry))


def _intact(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def _verify(database_url: str, instance: Path) -> str:
    result = CliRunner().invoke(cli, ["verify"], env={"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
                                                       "WALLET_INSTANCE_PATH": str(instance)})
    assert result.exit_code == 0, result.output
    return result.output


def _page_count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(db.execute("PRAGMA page_count").fetchone()[0])
    finally:
        db.close()


FAULTS = {
    "read-only": lambda path: "PRAGMA query_only = ON",
    "disk full": lambda path: f"PRAGMA max_page_count = {_page_count(path)}",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_full_or_read_only_sqlite_file_is_a_clear_503_and_stays_intact(
        fault, sqlite_only, quiet_settings, session_factory, client, sec, caplog):
    # A meal recorded before the fault is acknowledged and must survive it.
    good = client.post(EVENTS, json=batch(meal_event(sec.world.eligible[2], 40)), headers=sec.headers("terminal"))
    assert good.status_code == 200
    before = _count(session_factory)
    faulty, lift, engine = _faulty_app(quiet_settings, FAULTS[fault](sqlite_only))
    attempt = batch(meal_event(sec.world.eligible[3], 41), meal_event(sec.world.eligible[4], 42))
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        for _ in range(3):  # a terminal retrying
            response = faulty.test_client().post(EVENTS, json=attempt, headers=sec.headers("terminal"))
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.get_json()["code"] == "storage_unavailable"
            assert int(response.headers["Retry-After"]) > 0
            assert "ничего из этого запроса не записано" in response.get_json()["detail"]  # Russian by default
    assert any("cannot store data" in r.getMessage() and "SQLITE_" in r.getMessage() for r in caplog.records)
    # The readiness probe answers (a read-only SQLite file cannot even start a transaction: not ready).
    ready = faulty.test_client().get("/readyz")
    assert ready.status_code == (503 if fault == "read-only" else 200)
    # Nothing changed; the file is intact and its chains verify.
    lift()
    engine.dispose()
    assert _count(session_factory) == before
    _intact(sqlite_only)
    assert _verify(quiet_settings.database_url, quiet_settings.instance_path).startswith("OK")
    # The fault gone, the terminal's retry is recorded once, and a second retry is a replay.
    results = [client.post(EVENTS, json=attempt, headers=sec.headers("terminal")).get_json()["summary"]
               for _ in range(2)]
    assert results == [{"recorded": 2, "replayed": 0, "conflict": 0, "invalid": 0},
                       {"recorded": 0, "replayed": 2, "conflict": 0, "invalid": 0}]
    assert _count(session_factory) == before + 2
    _intact(sqlite_only)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files anyway")
def test_a_read_only_file_on_disk(sqlite_only, quiet_settings, session_factory, client, sec):
    before = _count(session_factory)
    engine = make_engine(quiet_settings.database_url)
    app = create_app(quiet_settings, engine=engine)
    engine.dispose()
    mode = sqlite_only.stat().st_mode
    sqlite_only.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        response = app.test_client().post(EVENTS, json=batch(meal_event(sec.world.eligible[3], 50)),
                                          headers=sec.headers("terminal"))
        assert response.status_code == 503
        assert response.get_json()["code"] in ("storage_unavailable", "database_unavailable")
    finally:
        sqlite_only.chmod(mode)
        engine.dispose()
    assert _count(session_factory) == before
    _intact(sqlite_only)
