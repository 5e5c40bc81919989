"""`wallet notify-worker`: push the parents' notifications to the national app's gateway, and show or mend
the delivery state (wallet.parents.push); `wallet prune-notifications`: the outbox's retention."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from types import FrameType
from urllib.parse import urlsplit

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from cli.context import Context, pass_context
from cli.i18n import _
from wallet.db import make_session_factory
from wallet.parents import push
from wallet.parents.notifications import prune_notifications
from wallet.parents.push_config import PushSettings, push_settings_from_env
from wallet.parents.push_http import WebhookSender


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.command("notify-worker")
@click.option("--status", "show_status", is_flag=True,
              help="Print the delivery counts (pending, delivered, dead, ...) and the oldest pending, then exit.")
@click.option("--retry-dead", is_flag=True, help="Requeue every dead delivery with a fresh attempt count, then exit.")
@click.option("--drain", is_flag=True,
              help="Exit once nothing is pending (waiting out backoffs) instead of running on.")
@pass_context
def notify_worker_command(ctx: Context, show_status: bool, retry_dead: bool, drain: bool) -> None:
    """Deliver parents' notifications to the push gateway (WALLET_PUSH_URL) as signed webhooks.

    Runs until SIGTERM or SIGINT (it finishes the batch in hand). Several workers may share a PostgreSQL
    database; run one on SQLite.
    """
    if show_status or retry_dead:
        with make_session_factory(ctx.engine())() as session:
            if retry_dead:
                click.echo(f"requeued {push.retry_dead(session, _now())} dead deliveries")
            if show_status:
                _print_status(push.push_status(session, _now()))
        return
    config = push_settings_from_env(os.environ, production=ctx.settings.is_production)  # refuses bad settings
    from wallet import migrate

    if not migrate.is_at_head(ctx.engine()):
        raise click.ClickException(_("the database is not at the newest migration: run `wallet migrate` first"))
    _run(ctx, config, drain=drain)


@click.command("prune-notifications")
@click.option("--older-than-days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Delete outbox rows created more than this many days ago.")
@pass_context
def prune_notifications_command(ctx: Context, older_than_days: int) -> None:
    """Delete old rows of the parents' notification outbox (run daily from a timer).

    The outbox is a delivery aid, not a record: the ledger keeps every meal. A push still pending for a
    deleted row ends as `expired`; streams and polls resume from the rows that are left.
    """
    before = _now() - dt.timedelta(days=older_than_days)
    with make_session_factory(ctx.engine())() as session:
        deleted = prune_notifications(session, before)
    click.echo(f"deleted {deleted} outbox rows created before {before.isoformat(timespec='seconds')}")


def _print_status(status: push.PushStatus) -> None:
    for state, count in status.counts.items():
        click.echo(f"{state:<10} {count}")
    oldest = f"{status.lag_s:.0f} s" if status.oldest_pending_at else "none pending"
    click.echo(f"oldest pending: {oldest}")


def _run(ctx: Context, config: PushSettings, *, drain: bool) -> None:
    factory = make_session_factory(ctx.engine())
    sender = WebhookSender(config.url, config.secret, timeout_s=config.timeout_s)
    enqueuer = push.Enqueuer(config.policy)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    where = urlsplit(config.url)
    click.echo(f"notify-worker: delivering to {where.scheme}://{where.netloc.rpartition('@')[2]}")  # no userinfo
    while not stop.is_set():
        try:
            with factory() as session:
                enqueuer(session, _now())
                report = push.deliver_due(session, sender, config.policy)
                if report.handled:
                    click.echo(f"notify-worker: delivered {report.delivered}, retrying {report.retrying}, "
                               f"dead {report.dead}, withheld {report.withheld}, expired {report.expired}")
                    continue
                due = push.next_due(session)
        except (OperationalError, InterfaceError) as exc:  # a database restart: nothing is lost; try again
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            click.echo(_("notify-worker: database unavailable (%(reason)s); trying again", reason=reason), err=True)
            stop.wait(config.poll_s)
            continue
        if due is None and drain:
            break
        # Nothing was claimable: wait for the next due row, or a poll interval when none is due later (the
        # due ones are then held by another worker, and asking again at once would spin).
        until_due = (due - _now()).total_seconds() if due is not None else 0.0
        stop.wait(min(config.poll_s, until_due) if until_due > 0 else config.poll_s)
    click.echo("notify-worker: stopped")
