"""Shared fixtures: every database test runs on SQLite and, when WALLET_TEST_POSTGRES_URL is set, on
PostgreSQL. The schema comes from the Alembic migrations, built once per run: on SQLite into a template file
that each test copies; on PostgreSQL into one database that is emptied before each test."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.log_scan import Recorder
from wallet import migrate
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.models import Base

POSTGRES_URL = os.environ.get("WALLET_TEST_POSTGRES_URL")

# Two shared cores: timing is noise here. Hypothesis checks properties, not speed (benchmarks do that).
hypothesis_settings.register_profile("wallet", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("wallet")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def logs_hold_no_secrets() -> Iterator[Recorder]:
    """Every test of the suite: its log records (root logger, INFO and above) hold no token and no full IIN
    (tests/log_scan.py); the test fails at teardown otherwise."""
    root = logging.getLogger()
    recorder, level = Recorder(), root.level
    root.addHandler(recorder)
    root.setLevel(min(level or logging.WARNING, logging.INFO))
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    leaks = recorder.leaks()
    if leaks:
        pytest.fail("log records hold a token or a full IIN:\n" + "\n".join(leaks[:20]), pytrace=False)


def _admin_engine(url: str) -> Engine:
    return create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresTestDatabase]:
    if not POSTGRES_URL:
        pytest.skip("WALLET_TEST_POSTGRES_URL is not set")
    database = PostgresTestDatabase(POSTGRES_URL, f"wallet_test_{os.getpid()}")
    yield database
    database.drop()


class PostgresTestDatabase:
    """One migrated PostgreSQL database per test run, emptied before each test.

    Emptying deletes the rows of the tables that hold any (one query finds them) and puts back the rows that
    the migrations seed, with user triggers and foreign-key checks switched off for this session only
    (session_replication_role = replica), then restarts every sequence that was used: the state that
    TRUNCATE ... RESTART IDENTITY CASCADE of every table gave, in about a tenth of a second where that took
    one to three seconds on the shared two-core machine (new files for each of 76 tables, removed at commit;
    1,358 tests empty it), and CREATE DATABASE ... TEMPLATE most of a second. A test that leaves the schema
    off head (a failed migration test) gets the database rebuilt.
    """

    def __init__(self, admin_url: str, name: str) -> None:
        self.admin = _admin_engine(admin_url)
        self.name = name
        self.url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        self._create()

    def _create(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            self.tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            self.seed = {t: [dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{t}"'))]
                         for t in self.tables}
            self.seed = {t: rows for t, rows in self.seed.items() if rows}
        engine.dispose()
        # One round trip names the tables with rows (a partitioned table's rows are its partitions' too).
        self._holding_rows = text(" UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in self.tables))

    def reset(self) -> str:
        engine = make_engine(self.url)
        try:
            with engine.begin() as conn:  # one connection: the revision check and the emptying
                if MigrationContext.configure(conn).get_current_revision() != migrate.head_revision():
                    rebuild = True
                else:
                    rebuild = False
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    holding = {row[0] for row in conn.execute(self._holding_rows)} | set(self.seed)
                    for table in self.tables:
                        if table in holding:
                            conn.execute(text(f'DELETE FROM "{table}"'))
                    for table, rows in self.seed.items():
                        conn.execute(Base.metadata.tables[table].insert(), rows)
                    conn.execute(text(
                        "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                        "FROM pg_sequences WHERE last_value IS NOT NULL AND schemaname = current_schema()"))
        finally:
            engine.dispose()  # no connection of ours stays open while the test runs
        if rebuild:
            self._create()
        return self.url

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "wallet.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    database: PostgresTestDatabase = request.getfixturevalue("postgres_database")
    yield database.reset()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of its own for this test, on each backend."""
    yield from fresh_database_url(request, request.param, tmp_path)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine):  # type: ignore[no-untyped-def]
    return make_session_factory(engine)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(environment="test", database_url=database_url, instance_path=tmp_path / "instance")


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    from api import create_app

    return create_app(settings, engine=engine)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def world(session_factory):  # type: ignore[no-untyped-def]
    """A small world whose serving day is today in Asia/Almaty (see tests/factories.py)."""
    from tests.factories import make_world

    with session_factory() as session:
        return make_world(session)


@pytest.fixture
def terminal_key(session_factory, world):  # type: ignore[no-untyped-def]
    """A registered, active terminal of the world's school, with its private key."""
    from tests.factories import TerminalKey

    key = TerminalKey()
    with session_factory() as session:
        key.register(session, world.school)
    return key
