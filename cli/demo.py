"""`wallet demo-data`: migrate, generate the demo world as CSV files and load them as `wallet import` does."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import click

from cli.context import EXIT_BAD_INPUT, Context, pass_context
from cli.i18n import _, n_
from wallet.demo.generator import MAX_STUDENTS, build, write
from wallet.demo.participants import DemoParent, demo_parents
from wallet.demo.world import DemoWorld
from wallet.messages import N_plural
from wallet.vouchers.years import today_in_kazakhstan

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_ERRORS = N_plural("%(num)d error", "%(num)d errors")
_OFFERS = N_plural("%(num)d voucher offer", "%(num)d voucher offers")
_ACTIVE = N_plural("%(num)d active voucher", "%(num)d active vouchers")
_CHILDREN = N_plural("%(num)d child", "%(num)d children")


def _load(ctx: Context, world: DemoWorld, out_dir: Path) -> DemoParent:
    from wallet import migrate
    from wallet.db import make_session_factory
    from wallet.importing import ImportFailed, import_file

    engine = ctx.engine()
    migrate.upgrade(engine)
    files = write(world, out_dir)
    session_factory = make_session_factory(engine)
    for kind in files:  # the demo's kinds, in import order (no serving windows: see docs/import-formats.md)
        try:
            report = import_file(session_factory, kind, files[kind])
        except ImportFailed as exc:
            for error in exc.errors:
                # "FILE:line 3: column: message", as before, with the row's words in the operator's language
                row = (_("line %(line)s: %(field)s: %(message)s", line=error.line, field=error.column,
                         message=error.message) if error.column
                       else _("line %(line)s: %(message)s", line=error.line, message=error.message))
                click.echo(f"{files[kind]}:{row}", err=True)
            click.echo(_("demo-data: %(kind)s refused (%(errors)s); stopped", kind=kind,
                         errors=n_(_ERRORS, len(exc.errors))), err=True)
            raise SystemExit(EXIT_BAD_INPUT) from None
        click.echo(
            f"{kind:<12} {report.rows:>6} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
    _vouchers(session_factory, world)
    _qr_meals(ctx, session_factory, world.today)
    _evidence(session_factory, world)
    with session_factory() as session:
        return demo_parents(session, 1)[0]


def _vouchers(session_factory, world: DemoWorld) -> None:  # type: ignore[no-untyped-def]
    """Offers, acceptances with consent, declines and suspensions (wallet/demo/vouchers.py)."""
    from wallet.demo.vouchers import make_demo_vouchers

    with session_factory() as session:
        statuses = make_demo_vouchers(session, today=world.today, seed=world.seed)
    click.echo("vouchers     " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))


def _qr_meals(ctx: Context, session_factory, today: dt.date) -> None:  # type: ignore[no-untyped-def]
    """A month of QR-based meals through the real ingest (wallet/demo/qr_meals.py), for the active vouchers."""
    from wallet.demo.qr_meals import DAYS, record_demo_qr_meals
    from wallet.keys import load_qr_signing_key

    meals = record_demo_qr_meals(session_factory, load_qr_signing_key(ctx.settings), today,
                                 clock_tolerance=dt.timedelta(seconds=ctx.settings.device_clock_tolerance_s))
    click.echo(f"qr meals     {meals:>6} events recorded for the last {DAYS} days")


def _evidence(session_factory, world: DemoWorld) -> None:  # type: ignore[no-untyped-def]
    """A few findings of each kind the data allow (wallet/demo/evidence.py), for the Findings page."""
    from wallet.demo.evidence import make_demo_evidence

    found = make_demo_evidence(session_factory, today=world.today, seed=world.seed)
    click.echo("findings     " + (", ".join(f"{n} {rule}" for rule, n in sorted(found.items())) or "none"))


def _summary(world: DemoWorld, parent: DemoParent) -> list[str]:
    t = world.tables
    months = ", ".join(f"{y}-{m:02d}" for y, m in world.months)
    children_of = Counter(r["parent_iin"] for r in t["guardians"])
    vouchers = ", ".join(part for part in (
        _("%(offers)s to answer", offers=n_(_OFFERS, parent.offered)) if parent.offered else "",
        n_(_ACTIVE, parent.active) if parent.active else "") if part)
    school = t["schools"][0]
    closure = next(r for r in t["calendar"] if r["kind"] == "closure")
    return [
        _("demo world (seed %(seed)s) for school year %(year)s/%(next_year)s: %(schools)s schools, "
          "%(suppliers)s suppliers, %(pupils)s pupils, %(parents)s parents and guardians; calendar and menus "
          "for %(months)s.", seed=world.seed, year=world.school_year, next_year=world.school_year + 1,
          schools=len(t["schools"]), suppliers=len(t["suppliers"]), pupils=len(t["students"]),
          parents=len(children_of), months=months),
        _("Look next at:"),
        _("  a parent with %(children)s (%(vouchers)s), to sign in as: IIN %(iin)s (shown in full: demo IINs are "
          "made up, all with serial 0000)", children=n_(_CHILDREN, parent.children),
          vouchers=vouchers or _("no vouchers"), iin=parent.iin),
        _("  school %(bin)s (%(name)s): its classes, menus and contract prices", bin=school["bin"],
          name=school["name_ru"]),
        _("  the quarantine closure at school %(bin)s on %(day)s", bin=closure["school_bin"], day=closure["date"]),
        _("Running the same command again changes nothing (every kind reports 0 created, 0 updated)."),
    ]


@click.command("demo-data")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the random generator.")
@click.option(
    "--students", type=click.IntRange(1, MAX_STUDENTS), default=1000, show_default=True,
    help="Number of pupils.",
)
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write the CSV files here and keep them (default: a temporary directory, removed afterwards).",
)
@click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="The day the demo is made for, YYYY-MM-DD (default: today in Asia/Almaty).",
)
@pass_context
def demo_data_command(
    ctx: Context, seed: int, students: int, out: Path | None, today: dt.datetime | None
) -> None:
    """Migrate the database, then generate and import a deterministic demo world.

    Schools, suppliers, contracts, pupils with valid made-up IINs (serial 0000), eligibility, guardians,
    and the calendar and menus of this month and the last. The same seed and day give the same world, so
    running it twice changes nothing the second time.
    """
    day = today.date() if today is not None else today_in_kazakhstan(dt.datetime.now(dt.UTC))
    world = build(seed=seed, students=students, today=day)
    if out is not None:
        parent = _load(ctx, world, out)
        click.echo(f"CSV files kept in {out}")
    else:
        with tempfile.TemporaryDirectory(prefix="wallet-demo-") as tmp:
            parent = _load(ctx, world, Path(tmp))
    for line in _summary(world, parent):
        click.echo(line)
