"""`wallet partitions ensure`: make the monthly partitions of the large append-only tables and of the
findings ahead of time (PostgreSQL; wallet.partitions). Run daily from a timer as the tables' owner, like
prune-notifications."""

from __future__ import annotations

import datetime as dt

import click

from cli.context import EXIT_MISMATCH, Context, pass_context
from cli.i18n import _
from wallet.partitions.spec import MONTHS_AHEAD


@click.group("partitions")
def partitions_group() -> None:
    """Monthly partitions of the ledger, the access log, the outbox, used token ids and findings (PostgreSQL)."""


@partitions_group.command("ensure")
@click.option("--months-ahead", default=MONTHS_AHEAD, show_default=True, type=click.IntRange(0, 60),
              help="Make partitions through this many months after the current one.")
@click.option("--check", "check_only", is_flag=True,
              help="Make nothing; exit 1 when any table has fewer months ahead than --months-ahead.")
@pass_context
def ensure_command(ctx: Context, months_ahead: int, check_only: bool) -> None:
    """Make the missing monthly partitions (idempotent), each with its table's grants and triggers.

    A month whose rows already sit in a table's DEFAULT partition cannot get a partition of its own; it is
    named, and the exit status is 1. SQLite has no partitions: nothing to do.
    """
    from wallet.partitions.ensure import ensure_partitions, months_ready

    engine = ctx.engine()
    if engine.dialect.name != "postgresql":
        click.echo("partitions: SQLite keeps plain tables; nothing to do")
        return
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        if check_only:
            ready = months_ready(conn, now)
            click.echo(f"partitions ready for {max(ready, 0)} month(s) after this one"
                       + ("" if ready >= 0 else " (not even this month)"))
            if ready < months_ahead:
                click.echo(_("partitions: fewer than %(months_ahead)s month(s) ahead: run `wallet partitions ensure`",
                             months_ahead=months_ahead),
                           err=True)
                raise SystemExit(EXIT_MISMATCH)
            return
        report = ensure_partitions(conn, now, months_ahead=months_ahead)
    click.echo(f"created {len(report.created)} partition(s)" + (f": {', '.join(report.created)}" if report.created
                                                               else ""))
    if report.blocked:
        click.echo(f"partitions: rows already in the DEFAULT partition keep these months from having their own: "
                   f"{', '.join(report.blocked)}", err=True)
        raise SystemExit(EXIT_MISMATCH)
