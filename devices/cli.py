"""`wallet-terminal`: the canteen-terminal agent's command line.

Exit status: 0 done; 1 the service refused or could not be reached; 2 bad input; 3 the local journal
cannot be used (corrupt or locked). The journal is never changed by a failed command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from devices.agent import MEAL_TYPES, METHODS, Agent, AgentError
from devices.client import ServiceError
from devices.journal import JournalError

EXIT_SERVICE, EXIT_BAD_INPUT, EXIT_JOURNAL = 1, 2, 3


@contextmanager
def _agent(data_dir: Path) -> Iterator[Agent]:
    agent = None
    try:
        agent = Agent(data_dir)
        yield agent
    except JournalError as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_JOURNAL)
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
@click.pass_context
def cli(ctx: click.Context, data_dir: Path) -> None:
    """Canteen terminal agent: records meals offline-first and uploads them to the service."""
    ctx.obj = data_dir


@cli.command()
@click.option("--server", required=True, help="service URL, e.g. http://127.0.0.1:8000")
@click.option("--code", required=True, help="one-time enrollment code from an operator")
@click.option("--label", default=None)
@click.pass_obj
def enroll(data_dir: Path, server: str, code: str, label: str | None) -> None:
    """Make this terminal's key and register it with a one-time code."""
    with _agent(data_dir) as agent:
        answer = agent.enroll(server, code, label)
        click.echo(f"enrolled as {answer['terminalId']} for school {answer['schoolBin']}")


@cli.command()
@click.argument("student_id")
@click.option("--meal-type", type=click.Choice(MEAL_TYPES), default="lunch", show_default=True)
@click.option("--method", type=click.Choice(METHODS), default="roster", show_default=True)
@click.pass_obj
def record(data_dir: Path, student_id: str, meal_type: str, method: str) -> None:
    """Record one meal (stored on disk before this prints)."""
    with _agent(data_dir) as agent:
        recorded = agent.record(student_id, meal_type, method)
        click.echo(f"recorded #{recorded.device_seq} {recorded.event_id}: {recorded.hint}")


@cli.command()
@click.pass_obj
def sync(data_dir: Path) -> None:
    """Refresh the roster and upload queued meals now."""
    with _agent(data_dir) as agent:
        agent.refresh_roster()
        report = agent.sync()
        click.echo(f"uploaded {report.sent}: {report.acknowledged} acknowledged ({report.billable} billable), "
                   f"{report.rejected} rejected; {report.remaining} still queued")


@cli.command()
@click.option("--interval", default=15.0, show_default=True, type=click.FloatRange(1, 3600))
@click.pass_obj
def run(data_dir: Path, interval: float) -> None:
    """Keep the roster fresh and upload every INTERVAL seconds, until stopped."""
    with _agent(data_dir) as agent:
        try:
            agent.run(interval_s=interval)
        except KeyboardInterrupt:
            click.echo("stopped; queued meals stay in the journal")


@cli.command()
@click.pass_obj
def status(data_dir: Path) -> None:
    """Queued, acknowledged and refused meals, last contact and clock offset."""
    with _agent(data_dir) as agent:
        click.echo(json.dumps(agent.status(), indent=2, ensure_ascii=False))


@cli.command()
@click.option("--out", type=click.File("w", encoding="utf-8-sig"), default="-", help="CSV file (default stdout)")
@click.pass_obj
def export(data_dir: Path, out) -> None:  # type: ignore[no-untyped-def]
    """The local journal as CSV, for the school to keep."""
    with _agent(data_dir) as agent:
        count = agent.export(out)
    click.echo(f"exported {count} meals", err=True)


@cli.command()
@click.option("--server", default=None, help="service URL (needed to enrol new terminals)")
@click.option("--code", "codes", multiple=True, help="enrollment code, one per terminal to enrol")
@click.option("--terminals", default=1, show_default=True, type=click.IntRange(1, 50))
@click.option("--meals-per-minute", default=120.0, show_default=True, type=click.FloatRange(1, 100000))
@click.option("--duration", default=None, type=click.FloatRange(1, None), help="seconds (default: until stopped)")
@click.option("--seed", default=None, type=int)
@click.pass_obj
def simulate(data_dir: Path, server: str | None, codes: tuple[str, ...], terminals: int, meals_per_minute: float,
             duration: float | None, seed: int | None) -> None:
    """Simulated terminals serving a lunch rush (data in DATA_DIR/terminal-N)."""
    from devices.simulator import simulate as run_simulation

    count = max(terminals, len(codes))
    dirs = [data_dir / f"terminal-{n + 1}" for n in range(count)]
    for n, directory in enumerate(dirs):
        with _agent(directory) as agent:
            if agent.journal.get("terminal_id"):
                continue
            if n >= len(codes) or not server:
                raise click.UsageError(f"{directory} is not enrolled: give --server and one --code per terminal")
            answer = agent.enroll(server, codes[n], f"simulated {n + 1}")
            click.echo(f"enrolled {answer['terminalId']} for school {answer['schoolBin']}")
    try:
        totals = run_simulation(dirs, meals_per_minute=meals_per_minute, duration_s=duration, seed=seed,
                                echo=click.echo)
    except KeyboardInterrupt:
        click.echo("simulation stopped; queued meals stay in each terminal's journal")
        return
    except (ServiceError, JournalError, AgentError) as exc:
        click.echo(f"wallet-terminal: {exc}", err=True)
        sys.exit(EXIT_SERVICE if isinstance(exc, ServiceError) else EXIT_JOURNAL)
    click.echo(f"simulation done: {json.dumps(totals)}")


def main() -> None:
    cli(prog_name="wallet-terminal")


if __name__ == "__main__":
    main()
