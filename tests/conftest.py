"""Shared fixtures: every database test runs on SQLite and, when WALLET_TEST_POSTGRES_URL is set, on
PostgreSQL. The schema comes from the Alembic migrations, built once per run into a template; each test
gets its own copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from wallet import migrate
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory

POSTGRES_URL = os.environ.get("WALLET_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


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
def postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("WALLET_TEST_POSTGRES_URL is not set")
    name = f"wallet_tmpl_{os.getpid()}"
    admin = _admin_engine(POSTGRES_URL)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "wallet.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"wallet_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(POSTGRES_URL or "")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield make_url(POSTGRES_URL or "").set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
