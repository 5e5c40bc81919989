"""The `wallet` command line: migrations, imports, demo data, serving, terminals and verification."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine

from wallet.config import ConfigError, Settings, settings_from_env
from wallet.db import check_connection, make_engine

EXIT_BAD_INPUT = 2
EXIT_CONFIG = 3


class Context:
    """Settings and a lazily made engine, shared by the subcommands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_from_env()
        return self._settings

    def engine(self) -> Engine:
        if self._engine is None:
            engine = make_engine(self.settings.database_url, echo=self.settings.sql_echo)
            check_connection(engine)
            self._engine = engine
        return self._engine


pass_context = click.make_pass_decorator(Context, ensure=True)


@contextmanager
def _config_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        click.echo(f"wallet: configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Social Wallet meal ledger: free school meals, recorded once and checkable by anyone entitled."""
    ctx.obj = Context()


@cli.command("migrate")
@pass_context
def migrate_command(ctx: Context) -> None:
    """Bring the database schema to the newest migration."""
    from wallet import migrate

    migrate.upgrade(ctx.engine())
    click.echo(f"database at migration {migrate.current_revision(ctx.engine())}")


@cli.command("check-config")
@pass_context
def check_config(ctx: Context) -> None:
    """Check the configuration and that the database is reachable and migrated."""
    from wallet import migrate

    engine = ctx.engine()
    state = "at head" if migrate.is_at_head(engine) else "NOT at head (run `wallet migrate`)"
    click.echo(f"environment {ctx.settings.environment}; database {engine.url.render_as_string()} {state}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (checks the database and migrations first)."""
    from wallet import migrate

    if not migrate.is_at_head(ctx.engine()):
        raise click.ClickException("the database is not at the newest migration: run `wallet migrate` first")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    args = [str(gunicorn), "-c", "python:api.gunicorn_conf", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--access-logfile", "-"]
    click.echo(f"serving on http://{host}:{port}/ (health: /healthz, readiness: /readyz)")
    os.execv(args[0], args)  # noqa: S606 - replace this process with gunicorn, arguments fixed above


def _register_subcommands() -> None:
    # Subcommands live beside the code they drive; importing them here keeps this file short.
    from wallet.cli_commands import register

    register(cli)


def main() -> None:
    _register_subcommands()
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    with _config_errors():
        cli(prog_name="wallet")


if __name__ == "__main__":
    main()
