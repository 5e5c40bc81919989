"""Run and inspect Alembic migrations from code (the CLI, the readiness probe and the tests use this)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from wallet import logs

log = logs.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to `revision`; one log line when anything was applied (alembic's own INFO lines are quiet)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("database migrated", from_revision=before, to_revision=after)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@cache
def head_revision() -> str | None:
    """The newest migration this code ships. Read once per process: reading the scripts takes a fifth of a
    second of CPU, which the readiness probe (/readyz) would otherwise spend on every request, and the
    scripts a running process has are the ones it was started with."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
