"""`wallet import KIND FILE`: load one registry file; errors go to stderr as FILE:LINE: column: message."""

from __future__ import annotations

from pathlib import Path

import click

from wallet.cli import EXIT_BAD_INPUT, Context, pass_context
from wallet.db import make_session_factory
from wallet.importing.errors import ImportFailed
from wallet.importing.service import KINDS, import_file


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_command(ctx: Context, kind: str, file: Path) -> None:
    """Import FILE (CSV, UTF-8) of registry data of one KIND; nothing is written if any row is wrong.

    Kinds, in the order they depend on each other: schools, suppliers, contracts, students, eligibility,
    guardians, calendar, menus. See docs/import-formats.md for the columns.
    """
    try:
        report = import_file(make_session_factory(ctx.engine()), kind, file)
    except ImportFailed as exc:
        for error in exc.errors:
            where = f"{file}:{error.line}"
            click.echo(
                f"{where}: {error.column}: {error.message}" if error.column else f"{where}: {error.message}",
                err=True,
            )
        click.echo(f"{file}: {len(exc.errors)} error(s); nothing was imported", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    click.echo(
        f"imported {report.kind}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    )
