"""`wallet verify` and `wallet checkpoint`: check every school chain, and sign chain heads."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.context import EXIT_BAD_INPUT, EXIT_MISMATCH, Context, domain, pass_context
from cli.i18n import _, n_, say
from wallet import logs
from wallet.db import make_session_factory
from wallet.messages import N_plural
from wallet.schools import school_ids_by_bin

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_SCHOOL_CHAINS = N_plural("%(num)d school chain", "%(num)d school chains")
_CHAINS = N_plural("%(num)d chain", "%(num)d chains")
_ENTRIES = N_plural("%(num)d entry", "%(num)d entries")
_CHECKPOINTS = N_plural("%(num)d checkpoint", "%(num)d checkpoints")

log = logs.get_logger(__name__)

if TYPE_CHECKING:
    from wallet.ledger.run_history import RunView

MAX_HISTORY = 1000
MAX_JOBS = 64
_BIN = re.compile(r"\d{12}")


def _check_bin(value: str | None) -> None:
    if value is not None and not _BIN.fullmatch(value):
        click.echo(_("wallet: --school must be a school BIN of 12 digits, got %(value)r", value=value), err=True)
        raise SystemExit(EXIT_BAD_INPUT)


@click.command("verify")
@click.option("--school", "school_bin", metavar="BIN", default=None, help="Verify only this school's chain.")
@click.option(
    "--public-key", "public_key_files", multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check checkpoints with this Ed25519 public key (PEM); repeat for older keys. "
    "Default: the public half of the configured signing key.",
)
@click.option("--history", is_flag=True, help="List recent verification runs (of any host, CLI, API or console) "
              "instead of verifying.")
@click.option("--limit", type=click.IntRange(1, MAX_HISTORY), default=20, show_default=True,
              help="With --history: how many runs to list.")
@click.option("--jobs", type=click.IntRange(1, MAX_JOBS), default=1, show_default=True,
              help="Verify this many schools at once, each in a process of its own (PostgreSQL; on SQLite "
              "one at a time).")
@pass_context
def verify_command(
    ctx: Context, school_bin: str | None, public_key_files: tuple[Path, ...], history: bool, limit: int,
    jobs: int,
) -> None:
    """Recompute every hash of every school chain and check chain heads and signed checkpoints.

    Prints one line per school: OK with its size and Merkle root, or FAILED naming the first entry or
    checkpoint that does not match. Exit status 0 when everything matches, 1 on any mismatch, 2 when
    the school asked for does not exist. Every run is recorded as a verification run (see --history).
    """
    _check_bin(school_bin)
    if history:
        _print_history(ctx, school_bin, limit)
        return
    from wallet.keys import load_public_key_file, load_signing_key, public_keys_of
    from wallet.ledger.runs import recorded_run
    from wallet.ledger.verify import UnknownSchoolError, iter_verify

    if public_key_files:
        public_keys = dict(load_public_key_file(path) for path in public_key_files)
    else:
        public_keys = public_keys_of(load_signing_key(ctx.settings))
    session_factory = make_session_factory(ctx.engine())
    try:
        # The run is recorded when this block ends; exits are decided after it, from the tally.
        with recorded_run(session_factory, via="cli", actor="cli", school_bin=school_bin) as tally:
            for report in iter_verify(session_factory, public_keys, school_bin, jobs=jobs):
                tally.add(report)
                click.echo(report.describe())
                log.info("chain verified", ok=report.ok, size=report.size, chains_done=tally.chains)
    except UnknownSchoolError as exc:
        click.echo(f"wallet: {say(exc)}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    log.info("verify finished", chains=tally.chains, failed=tally.failed, recorded=tally.record_error is None)
    if tally.record_error is not None:
        # Said, but not allowed to change what the check found or the exit status.
        click.echo(_("wallet verify: warning: this run was not recorded (%(record_error)s)",
                     record_error=tally.record_error), err=True)
    if tally.failed:
        click.echo(_("wallet verify: %(failed)s of %(chains)s FAILED", failed=tally.failed,
                     chains=n_(_SCHOOL_CHAINS, tally.chains)), err=True)
        raise SystemExit(EXIT_MISMATCH)
    if not tally.chains:
        click.echo(_("no school chains to verify"))


def _print_history(ctx: Context, school_bin: str | None, limit: int) -> None:
    from wallet.ledger.run_history import list_runs

    with make_session_factory(ctx.engine())() as session, domain():
        school_id = None if school_bin is None else school_ids_by_bin(session, [school_bin])[0]
        runs = list_runs(session, None, school_id=school_id, limit=limit)
    for run in runs:
        click.echo(_history_line(run))
    if not runs:
        click.echo(_("no verification runs recorded"))


def _history_line(run: RunView) -> str:
    """One run per line, newest first: id, start (UTC), how long, how and by whom, scope, counts, result,
    first problem; e.g. `#3 2026-12-03 09:41:07 UTC, 0.4 s, cli by cli, all schools: 8 chains, 1 entry,
    0 checkpoints: OK (v0.1.0)`."""
    when = run.started_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    took = (run.finished_at - run.started_at).total_seconds()
    scope = f"school {run.school_bin}" if run.school_bin else "all schools"
    line = (
        f"#{run.id} {when}, {took:.1f} s, {run.via} by {run.actor}, {scope}: "
        f"{n_(_CHAINS, run.chains_checked)}, {n_(_ENTRIES, run.entries_checked)}, "
        f"{n_(_CHECKPOINTS, run.checkpoints_checked)}: {run.result.upper()} (v{run.software_version})"
    )
    if run.problem is not None:
        where = f" at school {run.problem.school_bin}" if run.problem.school_bin else ""
        line += f"; first problem{where}: {run.problem.message}"
    return line


@click.command("checkpoint")
@click.option("--school", "school_bin", metavar="BIN", default=None,
              help="Sign only this school's chain (default: every school with a chain).")
@click.option("--reason", default="periodic", show_default=True, metavar="TEXT",
              help="Why the checkpoint is made, e.g. period-close (at most 40 characters).")
@pass_context
def checkpoint_command(ctx: Context, school_bin: str | None, reason: str) -> None:
    """Sign the current head of school chains (a checkpoint); one at the same size is not made twice."""
    from wallet.keys import load_signing_key
    from wallet.ledger.checkpoints import MAX_REASON_CHARS, make_checkpoints

    _check_bin(school_bin)
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        click.echo(_("wallet: --reason must be 1 to %(MAX_REASON_CHARS)s characters",
                     MAX_REASON_CHARS=MAX_REASON_CHARS), err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    key = load_signing_key(ctx.settings)
    session_factory = make_session_factory(ctx.engine())
    school_ids = None
    if school_bin is not None:
        with session_factory() as session, domain():
            school_ids = school_ids_by_bin(session, [school_bin])
    checkpoints = make_checkpoints(session_factory, key, school_ids, reason=reason)
    for checkpoint in checkpoints:
        chain_id = json.loads(checkpoint.body)["chainId"]
        click.echo(
            f"{chain_id} size {checkpoint.tree_size} root {bytes(checkpoint.root_hash).hex()} "
            f"key {checkpoint.key_id}"
        )
    log.info("checkpoints made", checkpoints=len(checkpoints), reason=reason)
    if not checkpoints:
        click.echo("no school chains to sign")
