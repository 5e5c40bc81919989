"""The schema is made only by Alembic: upgrade, downgrade and upgrade again on both databases, and the
models agree with the migrations (what `alembic check` checks in CI)."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from wallet import migrate
from wallet.models import Base
from wallet.partitions.compare import comparison_options


def test_database_is_at_head_and_matches_the_models(engine):
    assert migrate.is_at_head(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=comparison_options(conn.dialect.name)),
                                Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(engine):
    tables_at_head = set(inspect(engine).get_table_names())
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == tables_at_head
    assert migrate.is_at_head(engine)
