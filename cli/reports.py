"""`wallet meal-sheet` and `wallet payment-registry`.

The command line acts as an operator (it holds the database credentials); IINs are masked unless
`--show-iin` is given. Files are written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.context import OPERATOR, Context, domain, fail, pass_context
from cli.i18n import _, n_
from cli.output import lang_option, write_chunks, xlsx_labels
from wallet.messages import N_plural

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_PUPILS = N_plural("%(num)d pupil", "%(num)d pupils")
_MEALS = N_plural("%(num)d meal", "%(num)d meals")
_SUPPLIERS = N_plural("%(num)d supplier", "%(num)d suppliers")
_COSIGNATURES = N_plural("%(num)d cosignature", "%(num)d cosignatures")

FORMATS = ["csv", "xlsx", "json"]


@click.command("meal-sheet")
@click.option("--month", required=True, metavar="YYYY-MM", help="The billing month.")
@click.option("--school", "school_bin", required=True, metavar="BIN", help="The school (12-digit BIN).")
@click.option("--class", "class_name", default=None, metavar="NAME",
              help="One class as the roster writes it, e.g. 2А (Cyrillic letters; default: all).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--show-iin", is_flag=True, help="Show children's IINs in full (they are masked by default).")
@lang_option
@pass_context
def meal_sheet_command(ctx: Context, month: str, school_bin: str, class_name: str | None, fmt: str, out: Path,
                       show_iin: bool, lang: str) -> None:
    """A school's monthly meal sheet: a row per pupil, a column per serving day and meal type, totals per
    pupil, class and day; it agrees with the reconciliation to the tiyn."""
    from wallet.db import make_session_factory
    from wallet.ledger.verify import begin_snapshot
    from wallet.months import reportable_month
    from wallet.reconciliation.scope import resolve_scope
    from wallet.reconciliation.writers import write
    from wallet.reports.meal_sheet import meal_sheet, parse_class_name, sheet_document

    with domain():
        parsed = reportable_month(month)
        wanted = parse_class_name(class_name)
        with make_session_factory(ctx.engine())() as session:
            begin_snapshot(session)
            scope = resolve_scope(session, OPERATOR, school=school_bin, show_iin=show_iin)
            if wanted is not None:
                _check_class(session, scope.schools[0].id, school_bin, wanted)
            sheet = meal_sheet(session, scope, parsed, wanted)
            size = write_chunks(write(sheet_document(sheet), fmt, labels=xlsx_labels(lang)), out)
    pupils = n_(_PUPILS, len(sheet.pupils))
    meals = n_(_MEALS, sheet.total.meals)
    if wanted is None:
        click.echo(_("wrote %(out)s (%(size)s bytes): meal sheet of %(month)s for %(scope)s: %(pupils)s, %(meals)s, "
                     "checkpoints %(digest)s", out=out, size=size, month=parsed, scope=scope.label, pupils=pupils,
                     meals=meals, digest=sheet.as_of.digest), err=True)
    else:
        click.echo(_("wrote %(out)s (%(size)s bytes): meal sheet of %(month)s for %(scope)s class %(class_)s: "
                     "%(pupils)s, %(meals)s, checkpoints %(digest)s", out=out, size=size, month=parsed,
                     scope=scope.label, class_=wanted, pupils=pupils, meals=meals, digest=sheet.as_of.digest),
                   err=True)


def _check_class(session, school_id: int, school_bin: str, wanted: str) -> None:  # type: ignore[no-untyped-def]
    """A class the school does not have is an error that names the classes it has (the API gives an empty
    sheet instead: a program asking for it knows what it asked)."""
    from wallet.reports.classes import look_alike, school_classes

    classes = school_classes(session, school_id)
    if wanted in classes:
        return
    meant = look_alike(wanted, classes)
    hint = f"; did you mean {meant} (its letters are Cyrillic)?" if meant else ""
    listed = ", ".join(classes) if classes else "none"
    fail(_('school %(school_bin)s has no class %(wanted)r%(hint)s\n  its classes: %(listed)s',
           school_bin=school_bin, wanted=wanted, hint=hint, listed=listed))


@click.command("payment-registry")
@click.option("--month", required=True, metavar="YYYY-MM", help="A closed billing month.")
@click.option("--region", "region_code", default=None, metavar="CODE", help="One region (default: all).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@lang_option
@pass_context
def payment_registry_command(ctx: Context, month: str, region_code: str | None, fmt: str, out: Path,
                             lang: str) -> None:
    """What each supplier is due for a closed month, per contract and school, with the close checkpoints it
    was computed from; equal to the reconciliation's payable amount."""
    from wallet.db import make_session_factory
    from wallet.ledger.verify import begin_snapshot
    from wallet.months import reportable_month
    from wallet.reconciliation.scope import resolve_scope
    from wallet.reconciliation.writers import write
    from wallet.reports.payments import payment_registry, registry_document

    with domain():
        parsed = reportable_month(month)
        with make_session_factory(ctx.engine())() as session:
            begin_snapshot(session)
            scope = resolve_scope(session, OPERATOR, region=region_code)
            registry = payment_registry(session, scope, parsed, witnesses=ctx.settings.witness_policy)
            size = write_chunks(write(registry_document(registry), fmt, labels=xlsx_labels(lang)), out)
    click.echo(_("wrote %(out)s (%(size)s bytes): payment registry of %(month)s for %(scope)s: %(suppliers)s, "
                 "due %(due)s tiyn, checkpoints %(digest)s", out=out, size=size, month=parsed, scope=scope.label,
                 suppliers=n_(_SUPPLIERS, len(registry.suppliers)),
                 due=registry.due, digest=registry.as_of.digest), err=True)
    if registry.witnessed is not None:
        click.echo(_("witnessed: national head of size %(size)s, %(cosignatures)s",
                     size=registry.witnessed.tree_size,
                     cosignatures=n_(_COSIGNATURES,
                                     len(registry.witnessed.cosignatures))), err=True)


COMMANDS = (meal_sheet_command, payment_registry_command)
