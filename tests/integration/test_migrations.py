"""The schema is made only by Alembic: upgrade, downgrade and upgrade again on both databases, and the
models agree with the migrations (what `alembic check` checks in CI)."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from wallet import migrate
from wallet.models import Base
from wallet.partitions.compare import comparison_options
from wallet.partitions.spec import is_partition_name


def test_database_is_at_head_and_matches_the_models(engine):
    assert migrate.is_at_head(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=comparison_options(conn.dialect.name)),
                                Base.metadata)
    assert diff == []


def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    """The schema's tables, not their monthly partitions (which months exist depends on the rows written)."""
    return {t for t in inspect(engine).get_table_names() if not is_partition_name(t)}


def test_downgrade_to_base_and_upgrade_again(engine):
    tables_at_head = _tables(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert _tables(engine) == tables_at_head
    assert migrate.is_at_head(engine)
