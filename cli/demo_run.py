"""`wallet run-demo`: the API under gunicorn plus simulated terminals, the whole flow on one machine.

The terminals are separate processes that talk to the service over HTTP only (`wallet-terminal
simulate`), enrolled with one-time codes made here exactly as an operator would make them.

It fails loudly rather than half-working: the listening socket is bound here, before gunicorn starts, and
handed to it (`--bind fd://N`), so a port another program holds is a clear error instead of a simulator
posting to that other server; SIGTERM and SIGHUP stop the server and the simulator as Ctrl-C does, so no
orphan keeps the port; and either child stopping on its own ends the demo with its status.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from cli.context import Context
from cli.i18n import _, n_
from wallet import migrate
from wallet.db import make_session_factory
from wallet.demo.participants import first_school_bins, parents_with_active_vouchers, school_for_the_rush
from wallet.messages import N_plural
from wallet.terminals import create_enrollment_code

# Counted words of this module's summaries (wallet/messages.py), translated by cli.i18n.n_.
_TERMINALS = N_plural("%(num)d simulated terminal", "%(num)d simulated terminals")


class _Stopped(Exception):
    """SIGTERM or SIGHUP arrived: stop as Ctrl-C stops."""


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def listen(host: str, port: int) -> socket.socket:
    """The demo's listening socket, bound before anything starts. A port in use is an error that says so."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.ClickException(_("cannot serve on %(host)s:%(port)s: %(strerror)s",
                                     host=host, port=port, strerror=exc.strerror)) from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As gunicorn does: a port left in TIME_WAIT by an earlier run is free; one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}. Another program (an earlier demo?) is "
            f"listening there: stop it, or choose another port (`wallet run-demo --port N`, `make run PORT=N`)"
        ) from None
    sock.set_inheritable(True)
    return sock


def _wait_ready(url: str, server: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException(_("the API server stopped during start-up; see its output above"))
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise click.ClickException(f"the API server at {url} did not become ready in {timeout_s:.0f} s")


def _demo_school(ctx: Context) -> tuple[str, Path]:
    """The school whose canteen the simulated terminals serve, and their data folder: the first school, in
    instance/terminals; on a later run the same day, once it has served everyone, the next one that has not
    (in instance/terminals/BIN), so a demo started again still shows a canteen at work."""
    import datetime as dt

    with make_session_factory(ctx.engine())() as session:
        if not first_school_bins(session, 1):
            raise click.ClickException(_("no schools in the database: run `wallet demo-data` first"))
        index, school_bin = school_for_the_rush(session, dt.datetime.now(dt.UTC))
    data_dir = ctx.settings.instance_path / "terminals"
    return school_bin, data_dir if index == 0 else data_dir / school_bin


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
        raise click.ClickException(_("the database is not at the newest migration: run `wallet migrate` first"))
    school_bin, data_dir = _demo_school(ctx)
    url = f"http://{host}:{port}"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "WALLET_DATABASE_URL": ctx.settings.database_url,
           "WALLET_INSTANCE_PATH": str(ctx.settings.instance_path)}
    # The demo's terminal shows the simulated canteen's lines: the server logs only warnings and errors there,
    # not a JSON line per request (WALLET_LOG_LEVEL=INFO shows them).
    server_env = {**env, "WALLET_LOG_LEVEL": os.environ.get("WALLET_LOG_LEVEL", "WARNING")}
    listener = listen(host, port)
    previous = {signum: signal.signal(signum, _stop_on_signal) for signum in (signal.SIGTERM, signal.SIGHUP)}
    server: subprocess.Popen | None = None
    simulator: subprocess.Popen | None = None
    try:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [str(bin_dir / "gunicorn"), "-c", "python:api.gunicorn_conf", "--bind", f"fd://{listener.fileno()}",
             "--graceful-timeout", "5"], env=server_env, pass_fds=(listener.fileno(),))
        listener.close()  # gunicorn holds its own copy: the port is free again the moment it stops
        _wait_ready(url, server)
        with make_session_factory(engine)() as session:
            codes = [create_enrollment_code(session, school_bin)[0] for _ in range(terminals)]
        args = [str(bin_dir / "wallet-terminal"), "--data-dir", str(data_dir), "simulate", "--server", url,
                "--terminals", str(terminals), "--meals-per-minute", str(meals_per_minute)]
        for code in codes:
            args += ["--code", code]
        if duration:
            args += ["--duration", str(duration)]
        tokens_file = _parent_tokens(ctx, data_dir, school_bin)
        if tokens_file is not None:
            args += ["--parent-tokens", str(tokens_file)]
        click.echo(f"\nAPI serving at {url}  (health {url}/healthz, readiness {url}/readyz)")
        if ctx.settings.console_enabled:
            click.echo(f"web console at {url}/console/  (development sign-in: {url}/console/dev-sign-in)")
        click.echo(_("%(terminals)s of school %(bin)s are posting meals; Ctrl-C stops.",
                     terminals=n_(_TERMINALS, terminals), bin=school_bin) + "\n")
        started = time.monotonic()
        simulator = subprocess.Popen(args, env=env)  # noqa: S603 - fixed arguments
        _watch(server, simulator)
        left = None if duration is None else duration - (time.monotonic() - started)
        if left is None or left > 0:
            click.echo(f"\nthe API and the web console keep serving at {url}/console/; Ctrl-C stops")
            _serve_on(server, left)
    except (KeyboardInterrupt, _Stopped):
        click.echo("\nstopping")
    finally:
        listener.close()
        for signum in previous:  # a second signal must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        _stop(simulator, server)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _watch(server: subprocess.Popen, simulator: subprocess.Popen) -> None:
    """Wait for the simulator; the server stopping first, or the simulator failing, ends the demo with an error."""
    while True:
        status = simulator.poll()
        if status is not None:
            if status != 0:
                raise click.ClickException(_("the simulated terminals stopped with exit status %(status)s",
                                             status=status))
            return
        if server.poll() is not None:
            raise click.ClickException(_("the API server stopped (exit status %(returncode)s); see its output above",
                                         returncode=server.returncode))
        time.sleep(0.2)


def _serve_on(server: subprocess.Popen, seconds: float | None) -> None:
    """After the rush: the server alone, until Ctrl-C, a signal or `seconds`; its stopping is an error."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException(_("the API server stopped (exit status %(returncode)s); see its output above",
                                         returncode=server.returncode))
        time.sleep(0.2)


def _stop(*processes: subprocess.Popen | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
