"""`wallet totals check` and `wallet totals rebuild`: the derived ledger totals against the entries."""

from __future__ import annotations

import datetime as dt
import time

import click
from sqlalchemy.orm import Session

from cli.context import EXIT_BAD_INPUT, EXIT_MISMATCH, OPERATOR, Context, domain, pass_context
from cli.i18n import _, n_, say
from wallet.db import make_session_factory, transaction
from wallet.messages import N_plural
from wallet.schools import school_ids_by_bin

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_DIFFERING_ROWS = N_plural("%(num)d differing row", "%(num)d differing rows")
_DIFFERING_RECONCILIATIONS = N_plural("%(num)d differing reconciliation", "%(num)d differing reconciliations")

SHOWN = 5


@click.group("totals")
def totals_group() -> None:
    """The derived totals of the ledger (what an open month's reconciliation reads): check and rebuild."""


def _school_ids(session: Session, bins: tuple[str, ...]) -> list[int] | None:
    if not bins:
        return None
    with domain():
        return school_ids_by_bin(session, bins)


_SCHOOL = click.option("--school", "schools", multiple=True, metavar="BIN",
                       help="A school's BIN (repeatable; default: every school).")


@totals_group.command("check")
@_SCHOOL
@click.option("--month", default=None, metavar="YYYY-MM",
              help="Also reconcile this month for every region (or the schools' regions) both from the totals "
              "and from the entries, and compare.")
@pass_context
def check_command(ctx: Context, schools: tuple[str, ...], month: str | None) -> None:
    """Compare the totals with a fresh aggregation of the entries.

    The ceiling rows of schools not marked stale are compared with the registry too. Prints the first
    differing rows ("expected" is what the entries give, "found" what the totals hold) and a summary.
    Exit status 0 when they agree, 1 on any difference, 2 on bad input.
    """
    from wallet.ceiling_days import differences as ceiling_differences
    from wallet.ledger.totals import Difference, check
    from wallet.ledger.verify import begin_snapshot

    started = time.monotonic()
    with make_session_factory(ctx.engine())() as session:
        begin_snapshot(session)  # both sides, and both reconciliations, from one snapshot
        school_ids = _school_ids(session, schools)
        differences = check(session, school_ids)
        differences += [Difference("ceiling_day_totals", "entries" if side == "registry" else side, row)
                        for side, row in ceiling_differences(session, school_ids)]
        shown: dict[tuple[str, str], int] = {}
        for difference in differences:  # the first few of each table and side
            seen = shown[(difference.table, difference.side)] = shown.get((difference.table, difference.side), 0) + 1
            if seen <= SHOWN:
                click.echo(difference.describe())
        mismatched_months = _compare_reconciliations(session, month, school_ids) if month else []
    for line in mismatched_months:
        click.echo(line)
    took = time.monotonic() - started
    if differences or mismatched_months:
        more = _(" (at most %(shown)s shown a table and side)", shown=SHOWN) \
            if max(shown.values(), default=0) > SHOWN else ""
        click.echo(_("wallet totals check: %(rows)s%(more)s, %(reconciliations)s; run `wallet totals rebuild`",
                     rows=n_(_DIFFERING_ROWS, len(differences)),
                     more=more, reconciliations=n_(_DIFFERING_RECONCILIATIONS,
                                                   len(mismatched_months))), err=True)
        raise SystemExit(EXIT_MISMATCH)
    click.echo(_("totals agree with the entries (%(took)ss)", took=f"{took:.1f}"))


def _compare_reconciliations(session: Session, month_text: str, school_ids: list[int] | None) -> list[str]:
    from wallet.errors import DomainError
    from wallet.months import parse_month
    from wallet.reconciliation.compare import differing_reconciliations

    try:
        month = parse_month(month_text, "--month")
    except DomainError as exc:
        click.echo(f"wallet: {say(exc.message)}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    return differing_reconciliations(session, OPERATOR, month, school_ids, dt.datetime.now(dt.UTC))


@totals_group.command("rebuild")
@_SCHOOL
@pass_context
def rebuild_command(ctx: Context, schools: tuple[str, ...]) -> None:
    """Recompute the totals from the entries, in one transaction; appends to those schools wait meanwhile.

    Also derives again the ceiling rows (eligible children per serving day) of those schools and of every
    school whose registry or calendar changed since."""
    from wallet.ceiling_days import refresh
    from wallet.ledger.totals import rebuild

    started = time.monotonic()
    with transaction(make_session_factory(ctx.engine())) as session:
        school_ids = _school_ids(session, schools)
        days, children = rebuild(session, school_ids)
        ceilings = refresh(session, school_ids, everything=school_ids is None)
    click.echo(f"totals rebuilt: {days} school-day rows, {children} child-month rows, the ceiling rows of "
               f"{ceilings} school(s) ({time.monotonic() - started:.1f}s)")
