"""`wallet-witness`: make a witness directory, trust a log's key, show the witness's key, serve HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from witness import config as witness_config

DIR_OPTION = click.option("--dir", "directory", type=click.Path(path_type=Path), required=True,
                          envvar="WITNESS_DIR", help="The witness directory (key, settings, state).")


@click.group()
def main() -> None:
    """An independent witness for the meal ledger (C2SP tlog-witness): it cosigns a log's checkpoint only
    when it is consistent with every checkpoint it cosigned before."""


@main.command()
@DIR_OPTION
@click.option("--name", required=True, help="The witness's key name, e.g. witness.example.org/w1.")
def init(directory: Path, name: str) -> None:
    """Make a new witness directory with a fresh Ed25519 key; prints its verifier key."""
    try:
        cosigner = witness_config.init_dir(directory, name)
    except witness_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(cosigner.verifier.vkey())


@main.command("add-log")
@DIR_OPTION
@click.option("--origin", required=True, help="The log's origin line.")
@click.option("--vkey", required=True, help="The log's verifier key, as its operator published it.")
def add_log(directory: Path, origin: str, vkey: str) -> None:
    """Trust a log: its origin and one of its verifier keys."""
    try:
        witness_config.add_log(directory, origin, vkey)
    except witness_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"trusting {origin}")


@main.command()
@DIR_OPTION
def vkey(directory: Path) -> None:
    """Print the witness's verifier key (give it to the log operator)."""
    try:
        click.echo(witness_config.load(directory).cosigner.verifier.vkey())
    except witness_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@DIR_OPTION
@click.option("--bind", default="127.0.0.1:7380", show_default=True, help="host:port to listen on.")
def serve(directory: Path, bind: str) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint under gunicorn."""
    from gunicorn.app.base import BaseApplication

    from witness.app import create_app

    try:
        app = create_app(witness_config.load(directory))
    except witness_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One process, a few threads: the state lock (flock) would also hold across more workers.
            for key, value in {"bind": bind, "workers": 1, "threads": 4, "worker_class": "gthread",
                               "timeout": 30, "accesslog": None}.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return app

    sys.argv = sys.argv[:1]  # gunicorn reads sys.argv; our options are already taken
    _Server().run()
