"""The suite's PostgreSQL database is emptied between tests (tests/conftest.py PostgresTestDatabase.reset):
after a test that filled it, every table holds what the migrations seed and nothing else, and every sequence
starts again where TRUNCATE ... RESTART IDENTITY left it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.factories import make_world
from wallet.db import make_engine, make_session_factory

pytestmark = pytest.mark.postgres


def _state(url: str) -> tuple[dict[str, list], dict[str, object]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = [row[0] for row in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"))]
            rows = {t: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{t}"')))) for t in tables}
            sequences = dict(conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()")).all())
    finally:
        engine.dispose()
    return rows, sequences


def test_emptying_leaves_the_seeded_rows_and_restarted_sequences(postgres_database):
    url = postgres_database.reset()
    clean = _state(url)
    assert set(clean[1].values()) <= {None}, "a sequence was used before any test wrote"
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        make_world(session)
    assert "consent_texts" in postgres_database.seed
    with engine.begin() as conn:  # seeded rows gone too (behind the append-only trigger)
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM consent_texts"))
    engine.dispose()
    assert _state(url) != clean
    assert _state(postgres_database.reset()) == clean
