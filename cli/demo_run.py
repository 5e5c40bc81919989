"""`wallet run-demo`: the API under gunicorn plus simulated terminals, the whole flow on one machine.

The terminals are separate processes that talk to the service over HTTP only (`wallet-terminal
simulate`), enrolled with one-time codes made here exactly as an operator would make them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from cli.context import Context
from wallet import migrate
from wallet.db import make_session_factory
from wallet.demo.participants import first_school_bins, parents_with_active_vouchers
from wallet.terminals import create_enrollment_code


def _wait_ready(url: str, server: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException("the API server stopped during start-up; see its output above")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise click.ClickException(f"the API server at {url} did not become ready in {timeout_s:.0f} s")


def _demo_school_bins(ctx: Context, count: int) -> list[str]:
    with make_session_factory(ctx.engine())() as session:
        bins = first_school_bins(session, count)
    if not bins:
        raise click.ClickException("no schools in the database: run `wallet demo-data` first")
    return bins


def _parent_tokens(ctx: Context, data_dir: Path, school_bin: str, limit: int = 200) -> Path | None:
    """Development bearer tokens of parents whose children at the school hold an active voucher, so the
    simulated parents' apps can fetch QR codes (never in production: the development provider is off)."""
    import datetime as dt

    from api.auth import dev_idp

    if not ctx.settings.dev_idp_enabled:
        return None
    with make_session_factory(ctx.engine())() as session:
        parents = parents_with_active_vouchers(session, school_bin, limit)
    if not parents:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "parent-tokens.txt"
    lines = [dev_idp.issue_token(ctx.settings, iin, {"role": "parent"}, lifetime=dt.timedelta(hours=12))
             for iin in parents]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def run(ctx: Context, *, host: str, port: int, terminals: int, meals_per_minute: float,
        duration: float | None) -> None:
    engine = ctx.engine()
    if not migrate.is_at_head(engine):
        raise click.ClickException("the database is not at the newest migration: run `wallet migrate` first")
    bins = _demo_school_bins(ctx, 1)
    url = f"http://{host}:{port}"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "WALLET_DATABASE_URL": ctx.settings.database_url,
           "WALLET_INSTANCE_PATH": str(ctx.settings.instance_path)}
    # The demo's terminal shows the simulated canteen's lines: the server logs only warnings and errors there,
    # not a JSON line per request (WALLET_LOG_LEVEL=INFO shows them).
    server_env = {**env, "WALLET_LOG_LEVEL": os.environ.get("WALLET_LOG_LEVEL", "WARNING")}
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [str(bin_dir / "gunicorn"), "-c", "python:api.gunicorn_conf", "--bind", f"{host}:{port}",
         "--graceful-timeout", "5"], env=server_env)
    simulator: subprocess.Popen | None = None
    try:
        _wait_ready(url, server)
        with make_session_factory(engine)() as session:
            codes = [create_enrollment_code(session, bins[0])[0] for _ in range(terminals)]
        data_dir = ctx.settings.instance_path / "terminals"
        args = [str(bin_dir / "wallet-terminal"), "--data-dir", str(data_dir), "simulate", "--server", url,
                "--terminals", str(terminals), "--meals-per-minute", str(meals_per_minute)]
        for code in codes:
            args += ["--code", code]
        if duration:
            args += ["--duration", str(duration)]
        tokens_file = _parent_tokens(ctx, data_dir, bins[0])
        if tokens_file is not None:
            args += ["--parent-tokens", str(tokens_file)]
        click.echo(f"\nAPI serving at {url}  (health {url}/healthz, readiness {url}/readyz)")
        if ctx.settings.console_enabled:
            click.echo(f"web console at {url}/console/  (development sign-in: {url}/console/dev-sign-in)")
        click.echo(f"{terminals} simulated terminal(s) of school {bins[0]} are posting meals; Ctrl-C stops.\n")
        simulator = subprocess.Popen(args, env=env)  # noqa: S603 - fixed arguments
        simulator.wait()
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        for process in (simulator, server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
