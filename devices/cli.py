"""`wallet-terminal`: the canteen-terminal agent's command line.

Exit status: 0 done; 1 the service refused or could not be reached; 2 bad input; 3 the local journal
cannot be used (corrupt or locked); 4 a scanned QR code must not be served ("free meal: no": forged,
expired, another school or meal type, or already used here); 5 the meal holds an allergen of the child and
the cook did not confirm (nothing recorded). The journal is never changed by a failed command (except that
allergen lists of a roster past its last day are deleted whenever a meal is looked up).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from devices.agent import MANUAL_REASONS, MEAL_TYPES, METHODS, Agent, AgentError, AllergenNotConfirmed, SyncReport
from devices.client import ServiceError
from devices.journal import JournalError
from devices.qrtoken import QrRefused
from devices.sync_status import describe_age

EXIT_SERVICE, EXIT_BAD_INPUT, EXIT_JOURNAL, EXIT_REFUSED, EXIT_ALLERGEN = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Options:
    data_dir: Path
    lock_timeout_s: float = 10.0


@contextmanager
def _agent(options: Options | Path) -> Iterator[Agent]:
    if isinstance(options, Path):
        options = Options(options)
    agent = None
    try:
        agent = Agent(options.data_dir, lock_timeout_s=options.lock_timeout_s)
        yield agent
    except JournalError as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_JOURNAL)
    except QrRefused as exc:
        click.echo(f"free meal: no ({exc})", err=True)
        sys.exit(EXIT_REFUSED)
    except AllergenNotConfirmed as exc:
        click.echo(f"{exc}\nnot confirmed: nothing recorded (serve another dish, or record again with "
                   "--confirm-allergens once you have checked)", err=True)
        sys.exit(EXIT_ALLERGEN)
    except AgentError as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except ServiceError as exc:
        hint = " (this terminal was revoked: ask an operator)" if exc.code == "terminal_revoked" else ""
        click.echo(f"wallet-terminal: {exc}{hint}", err=True)
        sys.exit(EXIT_SERVICE)
    except ValueError as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        if agent is not None:
            agent.close()


@click.group()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("WALLET_TERMINAL_DIR", "terminal-data"), show_default="terminal-data",
              help="where the key and the journal live (env WALLET_TERMINAL_DIR)")
@click.option("--lock-timeout", default=lambda: os.environ.get("WALLET_TERMINAL_LOCK_TIMEOUT", "10"),
              type=click.FloatRange(0, 600), show_default="10",
              help="seconds to wait for a journal another process is writing (env WALLET_TERMINAL_LOCK_TIMEOUT)")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path, lock_timeout: float) -> None:
    """Canteen terminal agent: records meals offline-first and uploads them to the service."""
    ctx.obj = Options(data_dir, lock_timeout)


@cli.command()
@click.option("--server", required=True, help="service URL, e.g. http://127.0.0.1:8000")
@click.option("--code", required=True, help="one-time enrollment code from an operator")
@click.option("--label", default=None)
@click.pass_obj
def enroll(options: Options, server: str, code: str, label: str | None) -> None:
    """Make this terminal's key and register it with a one-time code."""
    with _agent(options) as agent:
        answer = agent.enroll(server, code, label)
        click.echo(f"enrolled as {answer['terminalId']} for school {answer['schoolBin']}")


@cli.command()
@click.argument("student_id", required=False)
@click.option("--qr", "qr_token", default=None, help="a scanned dynamic QR token (instead of STUDENT_ID)")
@click.option("--meal-type", type=click.Choice(MEAL_TYPES), default="lunch", show_default=True)
@click.option("--method", type=click.Choice(METHODS), default=None, help="default roster; qr with --qr")
@click.option("--manual-reason", type=click.Choice(MANUAL_REASONS), default=None,
              help="why the meal is entered by hand (required with --method manual)")
@click.option("--confirm-allergens", is_flag=True,
              help="the cook has seen the allergen warning and serves anyway (without it, a terminal at a "
                   "keyboard asks; otherwise nothing is recorded)")
@click.pass_obj
def record(options: Options, student_id: str | None, qr_token: str | None, meal_type: str,
           method: str | None, manual_reason: str | None, confirm_allergens: bool) -> None:
    """Record one meal by STUDENT_ID or by a scanned --qr token (stored on disk before this prints)."""
    if (student_id is None) == (qr_token is None):
        raise click.UsageError("give STUDENT_ID or --qr TOKEN (one of them)")
    if qr_token is not None and method not in (None, "qr"):
        raise click.UsageError("a meal by QR token has method qr")
    with _agent(options) as agent:
        def serve(confirmed: bool):  # type: ignore[no-untyped-def]
            if qr_token is not None:
                return agent.record_qr(qr_token, meal_type, allergens_confirmed=confirmed)
            return agent.record(student_id or "", meal_type, method or "roster", allergens_confirmed=confirmed,
                                manual_reason=manual_reason)

        try:
            recorded = serve(confirm_allergens)
        except AllergenNotConfirmed as warning:
            if not _at_keyboard():
                raise
            click.echo(str(warning), err=True)
            if not click.confirm("serve this meal anyway?", default=False, err=True):
                raise
            recorded = serve(True)
        click.echo(f"recorded #{recorded.device_seq} {recorded.event_id}: {recorded.hint}")
        if recorded.allergen.message:  # a confirmed warning, or allergies this terminal cannot know
            confirmed = " (confirmed by the cook)" if recorded.allergen.needs_confirmation else ""
            click.echo(f"wallet-terminal: {recorded.allergen.message}{confirmed}", err=True)


def _at_keyboard() -> bool:
    """Whether someone can answer a question (a terminal's keyboard), rather than a script."""
    return sys.stdin.isatty()


def _report(report: SyncReport) -> None:
    click.echo(f"uploaded {report.sent}: {report.acknowledged} acknowledged ({report.billable} billable), "
               f"{report.rejected} rejected; {report.remaining} still queued")
    for r in report.rejections:
        click.echo(f"rejected #{r.device_seq} {r.event_id}: {r.status} {r.code}: {r.message} "
                   "(kept in the journal, not sent again)")
    if report.clock_warning:
        click.echo(f"wallet-terminal: warning: {report.clock_warning}", err=True)


@cli.command()
@click.option("--attempts", default=6, show_default=True, type=click.IntRange(1, 20),
              help="tries per batch while the service is unreachable or busy (with backoff and jitter)")
@click.pass_obj
def sync(options: Options, attempts: int) -> None:
    """Refresh the roster and upload queued meals now."""
    with _agent(options) as agent:
        agent.refresh_roster()
        _report(agent.sync(max_attempts=attempts))


@cli.command()
@click.option("--interval", default=15.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--once", is_flag=True, help="one round (roster, upload), then exit")
@click.pass_obj
def run(options: Options, interval: float, once: bool) -> None:
    """Keep the roster fresh and upload every INTERVAL seconds, until stopped."""

    def passing(exc: ServiceError) -> None:
        click.echo(f"wallet-terminal: {exc}; trying again in {interval:g} s", err=True)

    with _agent(options) as agent:
        try:
            agent.run(interval_s=interval, max_loops=1 if once else None, on_error=passing)
        except KeyboardInterrupt:
            click.echo("stopped; queued meals stay in the journal")
            return
        status = agent.status()
        click.echo(f"{status['queued']} queued, {status['acknowledged']} acknowledged, "
                   f"{status['rejected']} rejected")
        if status["clockWarning"]:
            click.echo(f"wallet-terminal: warning: {status['clockWarning']}", err=True)


@cli.command()
@click.option("--text", "as_text", is_flag=True, help="a few lines for people instead of JSON")
@click.pass_obj
def status(options: Options, as_text: bool) -> None:
    """Queued, acknowledged and refused meals, the oldest unsent meal's age, the last successful upload, the
    verdicts of the last uploads, last contact and clock offset."""
    with _agent(options) as agent:
        report = agent.status()
    if as_text:
        last = report["lastUploads"]
        click.echo(f"queued: {report['queuedMeals']} meal(s); oldest unsent: "
                   f"{describe_age(report['oldestUnsentAgeS'])}")
        click.echo(f"last successful upload: {report['lastSuccessfulUpload'] or 'never'}")
        reasons = ", ".join(f"{k} {v}" for k, v in last["reasons"].items()) or "none"
        click.echo(f"last {last['uploads']} upload(s): {last['events']} meal(s), {last['billable']} billable, "
                   f"{last['notBillable']} not billable ({reasons}), {last['rejected']} rejected")
    else:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if report["clockWarning"]:
        click.echo(f"wallet-terminal: warning: {report['clockWarning']}", err=True)


@cli.command()
@click.option("--out", type=click.File("w", encoding="utf-8-sig"), default="-", help="CSV file (default stdout)")
@click.pass_obj
def export(options: Options, out) -> None:  # type: ignore[no-untyped-def]
    """The local journal as CSV, for the school to keep."""
    with _agent(options) as agent:
        count = agent.export(out)
    click.echo(f"exported {count} meals", err=True)


@cli.command()
@click.option("--server", default=None, help="service URL (needed to enrol new terminals)")
@click.option("--code", "codes", multiple=True, help="enrollment code, one per terminal to enrol")
@click.option("--terminals", default=1, show_default=True, type=click.IntRange(1, 50))
@click.option("--meals-per-minute", default=120.0, show_default=True, type=click.FloatRange(1, 100000))
@click.option("--duration", default=None, type=click.FloatRange(1, None), help="seconds (default: until stopped)")
@click.option("--seed", default=None, type=int)
@click.option("--parent-tokens", type=click.Path(dir_okay=False, exists=True), default=None,
              help="file of parents' bearer tokens (one a line): their apps fetch QR codes for a share of meals")
@click.option("--qr-share", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="share of meals served on a QR code (with --parent-tokens)")
@click.option("--stamp", type=click.Choice(["window", "now"]), default="window", show_default=True,
              help="window: meals in the school's lunch window, uploaded later when it is over; now: every meal "
              "stamped as it is recorded, at any hour")
@click.pass_obj
def simulate(options: Options, server: str | None, codes: tuple[str, ...], terminals: int, meals_per_minute: float,
             duration: float | None, seed: int | None, parent_tokens: str | None, qr_share: float,
             stamp: str) -> None:
    """Simulated terminals serving a lunch rush (data in DATA_DIR/terminal-N)."""
    from devices.parent_app import load_parent_apps
    from devices.simulator import simulate as run_simulation

    count = max(terminals, len(codes))
    dirs = [options.data_dir / f"terminal-{n + 1}" for n in range(count)]
    for n, directory in enumerate(dirs):
        with _agent(Options(directory, options.lock_timeout_s)) as agent:
            if agent.journal.get("terminal_id"):
                continue
            if n >= len(codes) or not server:
                raise click.UsageError(f"{directory} is not enrolled: give --server and one --code per terminal")
            answer = agent.enroll(server, codes[n], f"simulated {n + 1}")
            click.echo(f"enrolled {answer['terminalId']} for school {answer['schoolBin']}")
    # SIGTERM (run-demo stopping, systemd) ends the run as Ctrl-C does: the day's book is kept, a line said.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with _agent(Options(dirs[0], options.lock_timeout_s)) as first:
            api = server or first.journal.get("server") or ""
        apps = load_parent_apps(api, parent_tokens)
        totals = run_simulation(dirs, meals_per_minute=meals_per_minute, duration_s=duration, seed=seed,
                                parent_apps=apps, qr_share=qr_share, echo=click.echo, in_window=stamp == "window")
    except KeyboardInterrupt:
        click.echo("simulation stopped; queued meals stay in each terminal's journal")
        return
    except (ServiceError, JournalError, AgentError) as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_SERVICE if isinstance(exc, ServiceError) else EXIT_JOURNAL)
    # The totals as JSON for scripts and tests; a person at a terminal has read them in the line before.
    if not sys.stdout.isatty():
        click.echo(f"simulation done: {json.dumps(totals)}")


def main() -> None:
    cli(prog_name="wallet-terminal")


if __name__ == "__main__":
    main()
