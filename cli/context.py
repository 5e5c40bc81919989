"""What every `wallet` command shares: settings and engine of one invocation, exit statuses, error output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn

import click
from sqlalchemy import Engine

from cli.i18n import _, say
from wallet.config import ConfigError, Settings, settings_from_env
from wallet.db import check_connection, make_engine
from wallet.errors import DomainError
from wallet.principals import Principal

# Exit statuses: 0 success; 1 a check found a mismatch (verify, totals check, verify-proof); 2 bad input
# (click's own usage errors use 2 as well); 3 a configuration that cannot work.
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_CONFIG = 3

# The command line holds the database credentials, so it acts as an operator.
OPERATOR = Principal(subject="cli", role="operator")


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


@contextlib.contextmanager
def config_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        click.echo("wallet: " + _("configuration error: %(error)s", error=exc), err=True)
        sys.exit(EXIT_CONFIG)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"wallet: {say(message)}", err=True)
    raise SystemExit(code)


def domain_errors(exc: DomainError) -> NoReturn:
    """A domain error's message and each of its field errors on stderr; exit status 2."""
    click.echo(f"wallet: {say(exc.message)}", err=True)
    for error in exc.field_errors:
        message = say(error.message)
        text = message if message.startswith(error.field) else f"{error.field}: {message}"
        click.echo(f"  {text}", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def domain() -> Iterator[None]:
    """Domain errors raised in the block end the command as `domain_errors` says."""
    try:
        yield
    except DomainError as exc:
        domain_errors(exc)
