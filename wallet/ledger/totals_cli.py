"""`wallet totals check` and `wallet totals rebuild`: the derived ledger totals against the entries."""

from __future__ import annotations

import datetime as dt
import time

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.cli import EXIT_BAD_INPUT, Context, pass_context
from wallet.db import make_session_factory, transaction
from wallet.models import Region, School

EXIT_MISMATCH = 1
SHOWN = 5


@click.group("totals")
def totals_group() -> None:
    """The derived totals of the ledger (what an open month's reconciliation reads): check and rebuild."""


def _school_ids(session: Session, bins: tuple[str, ...]) -> list[int] | None:
    if not bins:
        return None
    found = dict(session.execute(select(School.bin, School.id).where(School.bin.in_(bins))).all())
    missing = sorted(set(bins) - set(found))
    if missing:
        click.echo(f"wallet: no school with BIN {', '.join(missing)}", err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    return sorted(found.values())


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

    Prints the first differing rows ("expected" is what the entries give, "found" what the totals hold)
    and a summary. Exit status 0 when they agree, 1 on any difference, 2 on bad input.
    """
    from wallet.ledger.totals import check
    from wallet.ledger.verify import begin_snapshot

    started = time.monotonic()
    with make_session_factory(ctx.engine())() as session:
        begin_snapshot(session)  # both sides, and both reconciliations, from one snapshot
        school_ids = _school_ids(session, schools)
        differences = check(session, school_ids)
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
        more = f" (at most {SHOWN} shown a table and side)" if max(shown.values(), default=0) > SHOWN else ""
        click.echo(f"wallet totals check: {len(differences)} differing row(s){more}, "
                   f"{len(mismatched_months)} differing reconciliation(s); run `wallet totals rebuild`", err=True)
        raise SystemExit(EXIT_MISMATCH)
    click.echo(f"totals agree with the entries ({took:.1f}s)")


def _compare_reconciliations(session: Session, month_text: str, school_ids: list[int] | None) -> list[str]:
    from wallet.errors import DomainError
    from wallet.principals import Principal
    from wallet.reconciliation.months import parse_month
    from wallet.reconciliation.queries import reconcile
    from wallet.reconciliation.scope import resolve_scope

    try:
        month = parse_month(month_text, "--month")
    except DomainError as exc:
        click.echo(f"wallet: {exc.message}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    regions = select(Region.code).order_by(Region.code)
    if school_ids is not None:
        regions = regions.where(Region.id.in_(select(School.region_id).where(School.id.in_(school_ids))))
    now = dt.datetime.now(dt.UTC)
    operator = Principal(subject="cli", role="operator")
    found = []
    for code in session.scalars(regions).all():
        scope = resolve_scope(session, operator, region=code)
        fast = reconcile(session, scope, month, now=now)
        slow = reconcile(session, scope, month, now=now, from_entries=True)
        parts = ("totals", "lines", "days", "gaps", "children", "adjustments", "claim_totals", "claim_differences")
        differing = [p for p in parts if getattr(fast, p) != getattr(slow, p)]
        if differing:
            found.append(f"reconciliation of {month} in region {code}: {', '.join(differing)} differ "
                         "between the totals and the entries")
    return found


@totals_group.command("rebuild")
@_SCHOOL
@pass_context
def rebuild_command(ctx: Context, schools: tuple[str, ...]) -> None:
    """Recompute the totals from the entries, in one transaction; appends to those schools wait meanwhile."""
    from wallet.ledger.totals import rebuild

    started = time.monotonic()
    with transaction(make_session_factory(ctx.engine())) as session:
        days, children = rebuild(session, _school_ids(session, schools))
    click.echo(f"totals rebuilt: {days} school-day rows, {children} child-month rows "
               f"({time.monotonic() - started:.1f}s)")
