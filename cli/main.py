"""The `wallet` command: its root group, the schema and server commands, and every command group joined to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli import (
    demo,
    dev,
    findings,
    imports,
    ledger,
    notify,
    partitions,
    reconciliation,
    reports,
    terminals,
    totals,
    vouchers,
    witness,
)
from cli.context import Context, config_errors, pass_context
from cli.i18n import _
from wallet import logs
from wallet.config import idp_keys_source


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
    click.echo(f"identity-provider keys from {idp_keys_source(ctx.settings)}")  # refused at settings if unsafe
    click.echo(ctx.settings.witness_policy.describe())


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (checks the database and migrations first)."""
    from wallet import migrate

    if not migrate.is_at_head(ctx.engine()):
        raise click.ClickException(_("the database is not at the newest migration: run `wallet migrate` first"))
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # No gunicorn access log: the app writes one JSON line per request (api/request_log.py).
    args = [str(gunicorn), "-c", "python:api.gunicorn_conf", "--bind", f"{host}:{port}", "--workers", str(workers)]
    click.echo(f"serving on http://{host}:{port}/ (health: /healthz, readiness: /readyz)")
    os.execv(args[0], args)  # noqa: S606 - replace this process with gunicorn, arguments fixed above


for command in (imports.import_command, demo.demo_data_command, terminals.terminals_group, vouchers.vouchers_group,
                ledger.verify_command, ledger.checkpoint_command, totals.totals_group, *reconciliation.COMMANDS,
                *reports.COMMANDS, *findings.COMMANDS, notify.notify_worker_command,
                notify.prune_notifications_command, *dev.COMMANDS, witness.witness_group,
                partitions.partitions_group):
    cli.add_command(command)


def install_logging(*, for_people: bool = False) -> None:
    """Progress of long jobs as JSON lines on stderr when it is not a terminal (cron, systemd, a pipe); on a
    terminal only warnings, as text, so that a person sees the commands' own output as before. stdout is
    never written to by logs. WALLET_LOG_FORMAT and WALLET_LOG_LEVEL override both defaults.

    `for_people`: the commands only a person runs (demo-data, run-demo) log as on a terminal wherever their
    output goes (a pipe, a file, CI), since nothing reads their stderr as JSON."""
    terminal = for_people or sys.stderr.isatty()
    fmt, level = logs.from_env(os.environ, default_format="console" if terminal else "json",
                               default_level="WARNING" if terminal else "INFO")
    logs.install(fmt, level)


# Commands run by a person only, never from cron or systemd (see install_logging).
FOR_PEOPLE = frozenset({"demo-data", "run-demo"})


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    with config_errors():
        install_logging(for_people=len(sys.argv) > 1 and sys.argv[1] in FOR_PEOPLE)
        cli(prog_name="wallet")


if __name__ == "__main__":
    main()
