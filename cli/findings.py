"""`wallet findings scan|list|rule`: the evidence rules over a month, the findings, and rulings on them.

The command line acts as an operator. `scan` records only findings not found before, so running it twice
finds nothing new the second time. `rule` takes a CSV file of rulings (finding_id, outcome, reason), checked
whole: one bad row and nothing is recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import click

from cli.context import EXIT_BAD_INPUT, OPERATOR, Context, domain, fail, pass_context
from cli.i18n import _
from wallet import logs

log = logs.get_logger(__name__)


@click.group("findings")
def findings_group() -> None:
    """Evidence that meals happened: scan a month, list findings, rule on them (docs/decisions.md)."""


@findings_group.command("scan")
@click.option("--month", required=True, metavar="YYYY-MM", help="The billing month.")
@click.option("--scope", "scope_text", default="all", show_default=True, help="all | region:CODE | school:BIN")
@click.option("--weak-share", type=click.FloatRange(0, 1), default=None,
              help="Share of weak identifications on a school's day above which its weak meals flag (0.5).")
@click.option("--min-gap", "min_gap_s", type=click.IntRange(0, 600), default=None,
              help="Seconds between two meals of one terminal below which they flag (3).")
@click.option("--max-per-minute", type=click.IntRange(1, 600), default=None,
              help="Meals of one terminal in any 60 s above which they flag (15).")
@pass_context
def scan_command(ctx: Context, month: str, scope_text: str, weak_share: float | None, min_gap_s: int | None,
                 max_per_minute: int | None) -> None:
    """Run every rule over the month's meals in the scope; record and count the new findings."""
    import dataclasses

    from wallet.db import make_session_factory, transaction
    from wallet.evidence.codes import Parameters
    from wallet.evidence.scan import scan
    from wallet.months import reportable_month
    from wallet.reconciliation.scope import parse_scope_text, resolve_scope

    with domain():
        parsed = reportable_month(month)
        region, school, supplier = parse_scope_text(scope_text)
        if supplier is not None:
            fail(_("findings scan covers schools: use all, region:CODE or school:BIN"))
        with transaction(make_session_factory(ctx.engine())) as session:
            scope = resolve_scope(session, OPERATOR, region=region, school=school)
            given = {"weak_share": weak_share, "min_gap_s": min_gap_s, "max_per_minute": max_per_minute}
            parameters = dataclasses.replace(Parameters(), **{k: v for k, v in given.items() if v is not None})
            report = scan(session, scope, parsed, now=dt.datetime.now(dt.UTC), parameters=parameters)
    by_rule = ", ".join(f"{n} {rule}" for rule, n in sorted(report.new.items())) or "nothing new"
    click.echo(f"scanned {report.entries} meal entries of {report.month} for {report.scope}: "
               f"{report.new_total} new finding(s) ({by_rule})")
    log.info("findings scan", month=report.month, scope=report.scope, entries=report.entries, new=report.new_total)


@findings_group.command("list")
@click.option("--month", required=True, metavar="YYYY-MM", help="The billing month.")
@click.option("--scope", "scope_text", default="all", show_default=True, help="all | region:CODE | school:BIN")
@click.option("--rule", "rule", default=None, help="Only this rule code.")
@click.option("--lang", type=click.Choice(["kk", "ru", "en"]), default="en", show_default=True)
@pass_context
def list_command(ctx: Context, month: str, scope_text: str, rule: str | None, lang: str) -> None:
    """The month's findings as JSON lines: id, rule, school, day, state, held tiyn, explanation, evidence."""
    from wallet.db import make_session_factory
    from wallet.evidence.views import FindingFilter, list_findings
    from wallet.months import reportable_month
    from wallet.reconciliation.scope import parse_scope_text, resolve_scope

    with domain():
        parsed = reportable_month(month)
        region, school, _ = parse_scope_text(scope_text)
        with make_session_factory(ctx.engine())() as session:
            scope = resolve_scope(session, OPERATOR, region=region, school=school)
            for view in list_findings(session, scope.school_ids, FindingFilter(month=str(parsed), rule=rule)):
                click.echo(json.dumps(view.as_json(lang), ensure_ascii=False, sort_keys=True))


@findings_group.command("rule")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def rule_command(ctx: Context, file: Path) -> None:
    """Record the rulings of FILE (CSV: finding_id, outcome upheld|dismissed, reason); all or nothing."""
    from wallet.db import make_session_factory, transaction
    from wallet.evidence.rulings import RulingRequest, rule

    requests: list[RulingRequest] = []
    try:
        reader = csv.DictReader(io.StringIO(file.read_text(encoding="utf-8-sig")))
        if reader.fieldnames is None or set(reader.fieldnames) != {"finding_id", "outcome", "reason"}:
            fail(_("%(file)s: the header must be finding_id,outcome,reason", file=file))
        for line, row in enumerate(reader, start=2):
            if not (row["finding_id"] or "").isdigit():
                fail(_("%(file)s:%(line)s: finding_id: a finding's number; nothing was recorded", file=file, line=line))
            requests.append(RulingRequest(int(row["finding_id"]), row["outcome"] or "", row["reason"] or ""))
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(_("%(file)s: not a UTF-8 CSV file (%(exc)s)", file=file, exc=exc))
    with domain(), transaction(make_session_factory(ctx.engine())) as session:
        rulings = rule(session, OPERATOR, requests, dt.datetime.now(dt.UTC))
    click.echo(f"recorded {len(rulings)} ruling(s)")


COMMANDS = (findings_group,)
__all__ = ["COMMANDS", "EXIT_BAD_INPUT"]
