"""`wallet import KIND FILE`: load one registry file; errors go to stderr as FILE:LINE: column: message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from cli.context import EXIT_BAD_INPUT, Context, pass_context
from cli.i18n import _, n_, say
from wallet import logs
from wallet.db import make_session_factory, transaction
from wallet.importing.errors import ImportFailed
from wallet.importing.service import KINDS, import_file
from wallet.messages import N_plural
from wallet.vouchers.imports import import_eligibility_feed, import_eligibility_list, run_voucher_jobs
from wallet.vouchers.years import today_in_kazakhstan

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_ERRORS = N_plural("%(num)d error", "%(num)d errors")

log = logs.get_logger(__name__)

# Kinds that are not registry tables of their own: a school's monthly list and the state registries' feed
# (wallet.vouchers.imports); they and `eligibility` are followed by the voucher jobs.
ELIGIBILITY_KINDS = ("eligibility-list", "eligibility-feed")


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS + ELIGIBILITY_KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_command(ctx: Context, kind: str, file: Path) -> None:
    """Import FILE (CSV, UTF-8) of registry data of one KIND; nothing is written if any row is wrong.

    Kinds, in the order they depend on each other: schools, suppliers, contracts, students, eligibility,
    guardians, calendar, menus, serving-windows, attendance (the class journal: CSV, or JSON lines when FILE
    ends in .jsonl); and eligibility-list (a school's monthly list, CSV) and eligibility-feed (state
    registries, JSON lines). See docs/import-formats.md for the columns.
    """
    factory = make_session_factory(ctx.engine())
    log.info("import started", kind=kind)
    try:
        if kind in ELIGIBILITY_KINDS:
            click.echo(_import_eligibility(factory, kind, file))
            return
        report = import_file(factory, kind, file)
    except ImportFailed as exc:
        for error in exc.errors:
            where = f"{file}:{error.line}"
            message = say(error.message)  # a marked text (wallet/importing) in the operator's language
            click.echo(f"{where}: {error.column}: {message}" if error.column else f"{where}: {message}", err=True)
        click.echo(_("%(file)s: %(errors)s; nothing was imported", file=file,
                     errors=n_(_ERRORS, len(exc.errors))), err=True)
        log.warning("import refused", kind=kind, errors=len(exc.errors))
        raise SystemExit(EXIT_BAD_INPUT) from None
    click.echo(
        _("imported %(kind)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged", kind=report.kind,
          created=report.created, updated=report.updated, unchanged=report.unchanged)
    )
    log.info("import finished", kind=kind, created=report.created, updated=report.updated,
             unchanged=report.unchanged)
    if kind == "eligibility":
        click.echo(_voucher_jobs(factory))


def _today() -> tuple[dt.datetime, dt.date]:
    now = dt.datetime.now(dt.UTC)
    return now, today_in_kazakhstan(now)


def _voucher_jobs(factory: sessionmaker[Session]) -> str:
    now, today = _today()
    with transaction(factory) as session:
        report = run_voucher_jobs(session, today, now)
    return f"vouchers: {report.summary()}"


def _import_eligibility(factory: sessionmaker[Session], kind: str, file: Path) -> str:
    now, today = _today()
    if kind == "eligibility-list":
        view = import_eligibility_list(factory, file, today=today, now=now)
        vouchers = view.vouchers.summary() if view.vouchers else "nothing to do"
        return (f"imported eligibility list of school {view.school.bin} for {view.month}: {len(view.entries)} pupils; "
                f"since {view.previous_month or 'no earlier list'}: {len(view.added)} added, "
                f"{len(view.removed)} removed, {len(view.category_changed)} category changed; vouchers: {vouchers}")
    counts, report = import_eligibility_feed(factory, file, today=today, now=now)
    return (f"imported eligibility-feed: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged; vouchers: {report.summary()}")
