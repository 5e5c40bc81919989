"""`wallet verify` and `wallet checkpoint`: check every school chain, and sign chain heads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from wallet.cli import EXIT_BAD_INPUT, Context, pass_context
from wallet.db import make_session_factory

EXIT_MISMATCH = 1
_BIN = re.compile(r"\d{12}")


def _check_bin(value: str | None) -> None:
    if value is not None and not _BIN.fullmatch(value):
        click.echo(f"wallet: --school must be a school BIN of 12 digits, got {value!r}", err=True)
        raise SystemExit(EXIT_BAD_INPUT)


@click.command("verify")
@click.option("--school", "school_bin", metavar="BIN", default=None, help="Verify only this school's chain.")
@click.option(
    "--public-key", "public_key_files", multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check checkpoints with this Ed25519 public key (PEM); repeat for older keys. "
    "Default: the public half of the configured signing key.",
)
@pass_context
def verify_command(ctx: Context, school_bin: str | None, public_key_files: tuple[Path, ...]) -> None:
    """Recompute every hash of every school chain and check chain heads and signed checkpoints.

    Prints one line per school: OK with its size and Merkle root, or FAILED naming the first entry or
    checkpoint that does not match. Exit status 0 when everything matches, 1 on any mismatch, 2 when
    the school asked for does not exist.
    """
    from wallet.keys import load_public_key_file, load_signing_key, public_keys_of
    from wallet.ledger.verify import UnknownSchoolError, iter_verify

    _check_bin(school_bin)
    if public_key_files:
        public_keys = dict(load_public_key_file(path) for path in public_key_files)
    else:
        public_keys = public_keys_of(load_signing_key(ctx.settings))
    failed = checked = 0
    try:
        for report in iter_verify(make_session_factory(ctx.engine()), public_keys, school_bin):
            checked += 1
            failed += not report.ok
            click.echo(report.describe())
    except UnknownSchoolError as exc:
        click.echo(f"wallet: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if failed:
        click.echo(f"wallet verify: {failed} of {checked} school chain(s) FAILED", err=True)
        raise SystemExit(EXIT_MISMATCH)
    if not checked:
        click.echo("no school chains to verify")


@click.command("checkpoint")
@click.option("--school", "school_bin", metavar="BIN", default=None,
              help="Sign only this school's chain (default: every school with a chain).")
@click.option("--reason", default="periodic", show_default=True, metavar="TEXT",
              help="Why the checkpoint is made, e.g. period-close (at most 40 characters).")
@pass_context
def checkpoint_command(ctx: Context, school_bin: str | None, reason: str) -> None:
    """Sign the current head of school chains (a checkpoint); one at the same size is not made twice."""
    from sqlalchemy import select

    from wallet.keys import load_signing_key
    from wallet.ledger.checkpoints import MAX_REASON_CHARS, make_checkpoints
    from wallet.models import School

    _check_bin(school_bin)
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        click.echo(f"wallet: --reason must be 1 to {MAX_REASON_CHARS} characters", err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    key = load_signing_key(ctx.settings)
    session_factory = make_session_factory(ctx.engine())
    school_ids = None
    if school_bin is not None:
        with session_factory() as session:
            school_id = session.scalar(select(School.id).where(School.bin == school_bin))
        if school_id is None:
            click.echo(f"wallet: no school with BIN {school_bin}", err=True)
            raise SystemExit(EXIT_BAD_INPUT)
        school_ids = [school_id]
    checkpoints = make_checkpoints(session_factory, key, school_ids, reason=reason)
    for checkpoint in checkpoints:
        chain_id = json.loads(checkpoint.body)["chainId"]
        click.echo(
            f"{chain_id} size {checkpoint.tree_size} root {bytes(checkpoint.root_hash).hex()} "
            f"key {checkpoint.key_id}"
        )
    if not checkpoints:
        click.echo("no school chains to sign")
