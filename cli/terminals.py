"""`wallet terminals ...`: register, revoke and list canteen terminals, and show sequence gaps."""

from __future__ import annotations

import click

from cli.context import EXIT_BAD_INPUT, Context, pass_context
from cli.i18n import _, n_, say
from wallet import terminals as service
from wallet.db import make_session_factory
from wallet.errors import DomainError
from wallet.messages import N_plural

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_GAPS = N_plural("%(num)d gap", "%(num)d gaps")


@click.group("terminals")
def terminals_group() -> None:
    """Canteen terminals of schools."""


def _fail(exc: DomainError) -> None:
    click.echo(f"wallet: {say(exc.message)}", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


@terminals_group.command("add")
@click.option("--school", "school_bin", required=True, help="BIN of the terminal's school")
@click.option("--public-key", required=True, help="raw Ed25519 public key, base64url")
@click.option("--id", "terminal_id", default=None, help="terminal id (default: generated)")
@click.option("--label", default=None)
@pass_context
def add(ctx: Context, school_bin: str, public_key: str, terminal_id: str | None, label: str | None) -> None:
    """Register a terminal with its public key."""
    with make_session_factory(ctx.engine())() as session:
        try:
            terminal = service.register_terminal(session, school_bin=school_bin, public_key=public_key,
                                                 terminal_id=terminal_id, label=label)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"registered terminal {terminal.id} for school {school_bin}")


@terminals_group.command("revoke")
@click.argument("terminal_id")
@pass_context
def revoke(ctx: Context, terminal_id: str) -> None:
    """Revoke a terminal: its tokens are refused from now on."""
    with make_session_factory(ctx.engine())() as session:
        try:
            service.revoke_terminal(session, terminal_id)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"revoked terminal {terminal_id}")


@terminals_group.command("list")
@click.option("--school", "school_bin", default=None)
@pass_context
def list_(ctx: Context, school_bin: str | None) -> None:
    """List terminals with their status and last contact."""
    with make_session_factory(ctx.engine())() as session:
        for terminal, bin_ in service.list_terminals(session, school_bin):
            contact = terminal.last_contact_at.isoformat() if terminal.last_contact_at else "never"
            click.echo(f"{terminal.id}\t{bin_}\t{terminal.status}\tlast contact {contact}")


@terminals_group.command("gaps")
@click.argument("terminal_id")
@pass_context
def gaps(ctx: Context, terminal_id: str) -> None:
    """Missing deviceSeq runs of a terminal."""
    with make_session_factory(ctx.engine())() as session:
        try:
            service.get_terminal(session, terminal_id)
        except DomainError as exc:
            _fail(exc)
        highest, runs = service.sequence_gaps(session, terminal_id)
        click.echo(_("%(terminal)s: highest deviceSeq %(highest)s, %(gaps)s", terminal=terminal_id, highest=highest,
                     gaps=n_(_GAPS, len(runs))))
        for first, last in runs:
            click.echo(_("  missing %(first)s-%(last)s", first=first, last=last))


@terminals_group.command("enrollment-code")
@click.option("--school", "school_bin", required=True, help="BIN of the school the terminal will serve")
@click.option("--quiet", is_flag=True, help="print only the code")
@pass_context
def enrollment_code(ctx: Context, school_bin: str, quiet: bool) -> None:
    """Make a one-time code that enrols one terminal (valid 30 minutes)."""
    with make_session_factory(ctx.engine())() as session:
        try:
            code, expires = service.create_enrollment_code(session, school_bin)
        except DomainError as exc:
            _fail(exc)
    if quiet:
        click.echo(code)
    else:
        click.echo(f"enrollment code for school {school_bin}: {code} (valid until {expires:%Y-%m-%d %H:%M} UTC)")
        click.echo("on the terminal: wallet-terminal enroll --server URL --code CODE")
