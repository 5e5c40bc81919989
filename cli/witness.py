"""`wallet witness ...`: the national log of school checkpoints and its independent witnesses.

`verify` recomputes the national log from the stored school checkpoints and checks every head and
cosignature. `collect` (from a timer, after `wallet checkpoint`) appends the new school checkpoints to the national log,
signs its head and asks every configured witness to cosign it; it never touches ingest. `status` shows the
newest head, how many witnesses cosigned it against the quorum, and each witness's last answer. `vkey`
prints what a witness operator needs to trust the log.
"""

from __future__ import annotations

import time

import click

from cli.context import EXIT_MISMATCH, Context, fail, pass_context
from cli.i18n import _


@click.group("witness")
def witness_group() -> None:
    """The national log of school checkpoints and its witnesses' cosignatures (C2SP tlog-witness)."""


@witness_group.command("collect")
@click.option("--loop", "loop_s", type=click.IntRange(10, 86400), default=None, metavar="SECONDS",
              help="Repeat every SECONDS until stopped, instead of once.")
@pass_context
def collect_command(ctx: Context, loop_s: int | None) -> None:
    """Extend the national log, sign its head and ask the witnesses to cosign it.

    Exit status 0 when the head is witnessed (k of n cosigned), 1 when it is not (witnesses down or
    refusing; a refusal with 422 means a witness saw a different history: a fork), 3 without witnesses."""
    policy = ctx.settings.witness_policy
    if not policy.enabled:
        fail(_("no witnesses configured (WALLET_WITNESS_LIST)"), 3)
    while True:
        witnessed = _collect_once(ctx)
        if loop_s is None:
            raise SystemExit(0 if witnessed else EXIT_MISMATCH)
        time.sleep(loop_s)


def _collect_once(ctx: Context) -> bool:
    from wallet.db import make_session_factory, transaction
    from wallet.keys import load_signing_key
    from wallet.witnessing.collect import collect
    from wallet.witnessing.national import extend_national_log

    policy = ctx.settings.witness_policy
    factory = make_session_factory(ctx.engine())
    with transaction(factory) as session:
        head = extend_national_log(session, load_signing_key(ctx.settings), policy.log_origin)
        size = head.tree_size
    report = collect(factory, policy)
    for result in report.results:
        status = f" (HTTP {result.status})" if result.status and result.outcome != "cosigned" else ""
        click.echo(f"  {result.name}: {result.outcome}{status} {result.detail}")
    verdict = "WITNESSED" if report.witnessed else "NOT WITNESSED"
    click.echo(f"{verdict} national head of size {size}: {report.cosigned} of {len(policy.witnesses)} "
               f"cosigned, quorum {policy.quorum}")
    if report.fork_suspected:
        click.echo(_("FORK SUSPECTED: a witness refused our head as inconsistent with what it cosigned before; run "
                     "`wallet verify` and compare the witness's checkpoint"), err=True)
    return report.witnessed


@witness_group.command("status")
@pass_context
def status_command(ctx: Context) -> None:
    """The newest national head, its cosignatures against the quorum, and each witness's last answer."""
    from wallet.db import make_session_factory
    from wallet.witnessing.status import witness_status

    with make_session_factory(ctx.engine())() as session:
        status = witness_status(session, ctx.settings.witness_policy)
    for line in status.lines():
        click.echo(line)


@witness_group.command("verify")
@pass_context
def verify_command(ctx: Context) -> None:
    """Recompute the national log from the school checkpoints; check every head's signature and every
    cosignature. Exit 1 naming the first mismatch."""
    from wallet.db import make_session_factory
    from wallet.keys import load_signing_key, public_keys_of
    from wallet.witnessing.audit import audit_national_log

    keys = public_keys_of(load_signing_key(ctx.settings))
    with make_session_factory(ctx.engine())() as session:
        audit = audit_national_log(session, ctx.settings.witness_policy, keys)
    summary = f"{audit.leaves} leaves, {audit.heads} heads, {audit.cosignatures} cosignatures checked"
    if audit.problem:
        fail(_("FAILED %(problem)s (%(summary)s)", problem=audit.problem, summary=summary), EXIT_MISMATCH)
    click.echo(f"OK national log: {summary}")


@witness_group.command("vkey")
@pass_context
def vkey_command(ctx: Context) -> None:
    """Print the national log's origin and verifier key: `wallet-witness add-log --origin O --vkey V`."""
    from wallet.keys import load_signing_key
    from wallet.witnessing.national import log_vkey

    origin = ctx.settings.witness_policy.log_origin
    click.echo(f"origin {origin}")
    click.echo(f"vkey {log_vkey(origin, load_signing_key(ctx.settings))}")
