"""Alembic environment: one code path for SQLite (batch mode) and PostgreSQL.

The URL comes from the caller (wallet.migrate passes a connection) or from WALLET_DATABASE_URL.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from wallet.config import settings_from_env
from wallet.db import make_engine
from wallet.models import Base
from wallet.partitions.compare import comparison_options

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        **comparison_options(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(settings_from_env().database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
