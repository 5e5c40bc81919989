"""`wallet reconcile`, `wallet export-entries`, `wallet close-period`, `wallet import-claim`,
`wallet verify-proof` and `wallet public-key`.

The command line acts as an operator (it holds the database credentials); `--scope supplier:BIN` reads as
that supplier would. IINs are masked unless `--show-iin` is given. Files are written under a temporary name
and renamed into place when complete, so an interrupted export never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.context import OPERATOR, Context, domain, fail, pass_context
from cli.i18n import _, n_, say
from cli.output import lang_option, write_chunks, xlsx_labels
from wallet import logs
from wallet.messages import N_plural
from wallet.principals import Principal

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_SCHOOL_CHAINS = N_plural("%(num)d school chain", "%(num)d school chains")

log = logs.get_logger(__name__)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wallet.months import Month
    from wallet.reconciliation.scope import Scope

EXIT_PROOF_FAILED = 1
PROGRESS_EVERY = 1000


def _scope_args(scope_text: str) -> tuple[Principal, str | None, str | None]:
    from wallet.reconciliation.scope import parse_scope_text

    region, school, supplier = parse_scope_text(scope_text)
    if supplier is not None:
        return Principal(subject="cli", role="supplier", supplier_bin=supplier), None, None
    return OPERATOR, region, school


@contextlib.contextmanager
def _month_in_scope(ctx: Context, month: str, scope_text: str,
                    show_iin: bool) -> Iterator[tuple[Session, Scope, Month]]:
    """(session, scope, month) of a reportable month, the session reading one snapshot; domain errors raised in
    the block end the command with exit status 2."""
    from wallet.db import make_session_factory
    from wallet.ledger.verify import begin_snapshot
    from wallet.months import reportable_month
    from wallet.reconciliation.scope import resolve_scope

    with domain():
        parsed = reportable_month(month)
        principal, region, school = _scope_args(scope_text)
        with make_session_factory(ctx.engine())() as session:
            begin_snapshot(session)
            yield session, resolve_scope(session, principal, region=region, school=school, show_iin=show_iin), parsed


@click.command("reconcile")
@click.option("--month", required=True, metavar="YYYY-MM", help="The billing month.")
@click.option("--scope", "scope_text", default="all", show_default=True,
              help="all | region:CODE | school:BIN | supplier:BIN")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the file here (required for xlsx; json and csv go to standard output without it).")
@click.option("--show-iin", is_flag=True, help="Show children's IINs in full (they are masked by default).")
@lang_option
@pass_context
def reconcile_command(ctx: Context, month: str, scope_text: str, fmt: str, output: Path | None,
                      show_iin: bool, lang: str) -> None:
    """The month's reconciliation: meals and amounts per school x supplier x category x meal type, refusals,
    voids, late entries, the ceiling, calendar and sequence anomalies, children, claims and adjustments."""
    from wallet.reconciliation.exports import reconciliation_document
    from wallet.reconciliation.queries import reconcile
    from wallet.reconciliation.writers import write

    if fmt == "xlsx" and output is None:
        fail(_("--format xlsx needs --output FILE"))
    with _month_in_scope(ctx, month, scope_text, show_iin) as (session, scope, parsed):
        rec = reconcile(session, scope, parsed)
        if fmt == "text":
            text = _text_report(rec)
            if output is None:
                click.echo(text, nl=False)
            else:
                write_chunks(iter([text.encode("utf-8")]), output)
            return
        chunks = write(reconciliation_document(rec), fmt, labels=xlsx_labels(lang))
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            size = write_chunks(chunks, output)
            click.echo(_("wrote %(output)s (%(size)s bytes): reconciliation of %(month)s for %(label)s",
                         output=output, size=size, month=rec.month, label=scope.label),
                       err=True)


def _tenge(tiyn: int) -> str:
    sign = "-" if tiyn < 0 else ""
    whole, cents = divmod(abs(tiyn), 100)
    return f"{sign}{whole:,}.{cents:02d}".replace(",", " ")


def _text_report(rec: object) -> str:
    from wallet.reconciliation.results import Reconciliation

    assert isinstance(rec, Reconciliation)
    t = rec.totals
    out = [
        f"reconciliation {rec.month}  scope {rec.scope.label}  {'CLOSED' if rec.as_of.closed else 'open'}",
        f"generated {rec.generated_at.isoformat().replace('+00:00', 'Z')}  checkpoints {rec.as_of.digest}",
        f"meals {t.meals}  voids {t.voids}  net {t.net_meals}  amount {_tenge(t.net_amount)} KZT  "
        f"adjustments {_tenge(t.adjustment_amount)} KZT  payable {_tenge(t.payable)} KZT",
        f"attempts {t.attempts}  refused {t.refused}  late {t.late}  ceiling {t.ceiling}",
        "refused by reason: " + ", ".join(f"{k} {v}" for k, v in t.refused_by_reason.items() if v),
        "",
        f"{'school':12}  {'supplier':12}  {'category':18}  {'meal':9}  {'meals':>7}  {'voids':>5}  "
        f"{'net KZT':>14}  {'refused':>7}  {'late':>5}  {'ceiling':>7}  ratio",
    ]
    for ln in rec.lines:
        supplier = rec.suppliers.get(ln.supplier_id, ("-", ""))[0] if ln.supplier_id else "-"
        out.append(
            f"{rec.schools[ln.school_id][0]:12}  {supplier:12}  {ln.category or '-':18}  {ln.meal_type:9}  "
            f"{ln.meals:>7}  {ln.voids:>5}  {_tenge(ln.net_amount):>14}  {ln.refused:>7}  {ln.late:>5}  "
            f"{ln.ceiling:>7}  {'-' if ln.ratio is None else f'{ln.ratio:.4f}'}"
        )
    out += [
        "",
        f"adjustments {len(rec.adjustments)}  day anomalies {len(rec.days)}  sequence gaps {len(rec.gaps)}  "
        f"children with anomalies {len({c.student_id for c in rec.children})}  "
        f"claim differences {len(rec.claim_differences)}",
    ]
    for total in rec.claim_totals:
        if total.school_id is None:
            out.append(f"claim of {rec.suppliers[total.supplier_id][0]}: claimed {total.claimed_meals} meals "
                       f"{_tenge(total.claimed_amount)} KZT, ledger {total.ledger_meals} meals "
                       f"{_tenge(total.ledger_amount)} KZT, difference {_tenge(total.amount_difference)} KZT")
    return "\n".join(out) + "\n"


@click.command("export-entries")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--scope", "scope_text", default="all", show_default=True,
              help="all | region:CODE | school:BIN | supplier:BIN")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--show-iin", is_flag=True, help="Show children's IINs in full (they are masked by default).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@lang_option
@pass_context
def export_entries_command(ctx: Context, month: str, scope_text: str, fmt: str, output: Path, show_iin: bool,
                           progress: bool, lang: str) -> None:
    """Every ledger entry of the month and scope, streamed to a file in constant memory."""
    from wallet.reconciliation.exports import count_entries, entries_document
    from wallet.reconciliation.writers import write

    with _month_in_scope(ctx, month, scope_text, show_iin) as (session, scope, parsed):
        total = count_entries(session, scope, parsed)
        document = entries_document(session, scope, parsed)
        with click.progressbar(length=total, label=f"exporting {total} entries", file=sys.stderr,
                               hidden=not progress) as bar:
            pending = 0

            def on_row() -> None:
                nonlocal pending
                pending += 1
                if pending == PROGRESS_EVERY:
                    bar.update(pending)
                    log.info("export progress", done=bar.pos, total=total)
                    pending = 0

            log.info("export started", total=total, format=fmt, month=str(parsed))
            size = write_chunks(write(document, fmt, on_row=on_row, labels=xlsx_labels(lang)), output)
            bar.update(pending)
        log.info("export finished", entries=total, bytes=size)
    click.echo(_("wrote %(output)s (%(size)s bytes): %(total)s entries of %(parsed)s for %(label)s",
                 output=output, size=size, total=total, parsed=parsed, label=scope.label), err=True)


@click.command("close-period")
@click.option("--region", "region_code", required=True, metavar="CODE")
@click.option("--month", required=True, metavar="YYYY-MM")
@pass_context
def close_period_command(ctx: Context, region_code: str, month: str) -> None:
    """Close a month for a region: sign a checkpoint of every school chain; later events for the month
    are refused (period_closed) and counted as adjustments of the month they arrive in."""
    from wallet.db import make_session_factory
    from wallet.keys import load_signing_key
    from wallet.months import parse_month
    from wallet.reconciliation.periods import close_period

    with domain():
        parsed = parse_month(month)
        key = load_signing_key(ctx.settings)
        with make_session_factory(ctx.engine())() as session:
            closed = close_period(session, OPERATOR, region_code, parsed, key)
    for school_bin, checkpoint in closed.checkpoints:
        click.echo(f"{school_bin} size {checkpoint.tree_size} root {bytes(checkpoint.root_hash).hex()}")
    chains = n_(_SCHOOL_CHAINS, len(closed.checkpoints))
    click.echo(_("closed %(month)s for region %(region)s: %(chains)s signed at %(at)s", month=closed.month,
                 region=closed.region_code, chains=chains, at=closed.closed_at.isoformat().replace("+00:00", "Z")))


@click.command("import-claim")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--supplier", "supplier_bin", required=True, metavar="BIN")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="Default: from the file's extension.")
@pass_context
def import_claim_command(ctx: Context, path: Path, supplier_bin: str, month: str, fmt: str | None) -> None:
    """Store a supplier's monthly claim (CSV: school_bin,day,meal_type,meals,amount_tiyn; or JSON). The
    whole file is checked first: on any error every bad line is listed and nothing is stored."""
    from wallet.db import make_session_factory
    from wallet.months import parse_month
    from wallet.reconciliation.claims import parse_csv, parse_json, submit_claim

    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "json"):
        fail(_("cannot tell the format of %(name)s; give --format csv or --format json", name=path.name))
    raw = path.read_bytes()
    with domain():
        parsed = parse_month(month)
        if fmt == "csv":
            rows = parse_csv(raw)
        else:
            try:
                document = json.loads(raw)
            except (ValueError, RecursionError):
                fail(_("%(path)s: not valid JSON", path=path))
            rows, stated = parse_json(document)
            if stated.get("month", month) != month or stated.get("supplierBin", supplier_bin) != supplier_bin:
                fail(_("%(path)s: the file's month or supplierBin differ from --month and --supplier", path=path))
        with make_session_factory(ctx.engine())() as session:
            claim = submit_claim(session, OPERATOR, parsed, rows, source_format=fmt, raw=raw,
                                 supplier_bin=supplier_bin)
    click.echo(f"stored claim {claim.id}: supplier {supplier_bin} month {month} version {claim.version}, "
               f"{claim.line_count} lines, {claim.total_meals} meals, {_tenge(claim.total_amount_tiyn)} KZT")


@click.command("verify-proof")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The service's Ed25519 public key (PEM, from `wallet public-key`). "
              "Default: the public half of the configured signing key.")
@click.option("--witness", "witness_vkeys", multiple=True, metavar="VKEY",
              help="For a meal receipt: a witness's verifier key to trust (repeat). "
              "Default: the keys in WALLET_WITNESS_LIST.")
@click.option("--quorum", type=click.IntRange(0, 64), default=None,
              help="For a meal receipt: cosignatures needed. Default: WALLET_WITNESS_QUORUM.")
@pass_context
def verify_proof_command(ctx: Context, path: Path, public_key_file: Path | None, witness_vkeys: tuple[str, ...],
                         quorum: int | None) -> None:
    """Check an inclusion or consistency proof file, or a parent's meal receipt, offline: exit 0 if it
    proves what it says, 1 if not."""
    from wallet.keys import load_public_key_file, load_signing_key, public_keys_of
    from wallet.reconciliation.proofs import redacted_members, verify_document

    if public_key_file is not None:
        keys = dict([load_public_key_file(public_key_file)])
    else:
        keys = public_keys_of(load_signing_key(ctx.settings))
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        fail(_("%(path)s: not valid JSON", path=path), EXIT_PROOF_FAILED)
    if isinstance(document, dict) and document.get("format") == "wallet-meal-receipt/v1":
        _verify_receipt(ctx, document, keys, witness_vkeys, quorum)
        return
    problems = verify_document(document, keys)
    if problems:
        for problem in problems:
            click.echo(f"FAILED {say(problem)}", err=True)
        raise SystemExit(EXIT_PROOF_FAILED)
    if document["format"].startswith("wallet-inclusion"):
        click.echo(f"OK entry {document['entryId']} is leaf {document['leafIndex']} of school "
                   f"{document['schoolBin']}'s chain of {document['treeSize']}, signed by key "
                   f"{document['checkpoint']['keyId']}")
        if redacted_members(document):
            click.echo(f"NOTE payload members {', '.join(redacted_members(document))} are masked for this reader: "
                       "the leaf's place in the signed tree is proven, their values are not")
    else:
        click.echo(f"OK school {document['schoolBin']}'s chain of {document['toSize']} extends its chain of "
                   f"{document['fromSize']}")


def _verify_receipt(ctx: Context, document: dict, keys: dict[str, bytes], witness_vkeys: tuple[str, ...],
                    quorum: int | None) -> None:
    from tlog.note import NoteError, parse_vkey
    from wallet.witnessing.receipts import describe_receipt, verify_receipt

    policy = ctx.settings.witness_policy
    try:
        witnesses = [parse_vkey(v) for v in witness_vkeys] or [w.verifier for w in policy.witnesses]
    except NoteError as exc:
        fail(_("--witness: %(exc)s", exc=exc))
    needed = quorum if quorum is not None else (policy.quorum if not witness_vkeys else len(witnesses) // 2 + 1)
    problems = verify_receipt(document, keys, witnesses, needed)
    if problems:
        for problem in problems:
            click.echo(f"FAILED {say(problem)}", err=True)
        raise SystemExit(EXIT_PROOF_FAILED)
    click.echo(describe_receipt(document))


@click.command("public-key")
@pass_context
def public_key_command(ctx: Context) -> None:
    """Print the service's checkpoint-signing public key (PEM) and its key id, for offline verification."""
    from wallet.keys import load_signing_key, public_key_pem

    key = load_signing_key(ctx.settings)
    click.echo(public_key_pem(key), nl=False)
    click.echo(f"key id {key.key_id}", err=True)


COMMANDS = (reconcile_command, export_entries_command, close_period_command, import_claim_command,
            verify_proof_command, public_key_command)

