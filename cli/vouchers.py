"""`wallet vouchers offer|sync|expire --school-year 2026-2027`: run the voucher jobs (cron, or by hand)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import click

from cli.context import EXIT_BAD_INPUT, Context, pass_context
from cli.i18n import say
from wallet.db import make_session_factory, transaction
from wallet.errors import DomainError
from wallet.schools import school_ids_by_bin
from wallet.vouchers.offers import VoucherReport, expire_vouchers, offer_vouchers, sync_vouchers
from wallet.vouchers.years import school_year_of, today_in_kazakhstan


@click.group("vouchers")
def vouchers_group() -> None:
    """Free-meal vouchers: offers from eligibility, keeping them in step, expiry after the school year."""


def _run(ctx: Context, job: Callable[..., VoucherReport], school_year: str | None, today: dt.date | None,
         schools: tuple[str, ...] = ()) -> None:
    now = dt.datetime.now(dt.UTC)
    day = today or today_in_kazakhstan(now)
    year = school_year or school_year_of(day)
    try:
        with transaction(make_session_factory(ctx.engine())) as session:
            school_ids = school_ids_by_bin(session, schools) if schools else None
            report = job(session, year, day, now, school_ids=school_ids)
    except DomainError as exc:
        click.echo(f"wallet: {say(exc.message)}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    click.echo(f"vouchers {year} on {day.isoformat()}: {report.summary()}")


_YEAR = click.option("--school-year", default=None, help="e.g. 2026-2027 (default: the current one)")
_SCHOOL = click.option("--school", "schools", multiple=True, help="a school's BIN (repeatable; default: all)")
_TODAY = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                      help="the day to judge entitlement on (default: today in Kazakhstan)")


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@vouchers_group.command("offer")
@_YEAR
@_TODAY
@_SCHOOL
@pass_context
def offer(ctx: Context, school_year: str | None, today: dt.datetime | None, schools: tuple[str, ...]) -> None:
    """Offer a voucher to every entitled pupil without one, and notify their guardians."""
    _run(ctx, offer_vouchers, school_year, _day(today), schools)


@vouchers_group.command("sync")
@_YEAR
@_TODAY
@_SCHOOL
@pass_context
def sync(ctx: Context, school_year: str | None, today: dt.datetime | None, schools: tuple[str, ...]) -> None:
    """Activate accepted vouchers, suspend those whose eligibility or enrollment ended, restore returning
    ones, let unanswered offers lapse."""
    _run(ctx, sync_vouchers, school_year, _day(today), schools)


@vouchers_group.command("expire")
@_YEAR
@_TODAY
@_SCHOOL
@pass_context
def expire(ctx: Context, school_year: str | None, today: dt.datetime | None, schools: tuple[str, ...]) -> None:
    """Expire the year's live vouchers once the school year has ended."""
    _run(ctx, expire_vouchers, school_year, _day(today), schools)
