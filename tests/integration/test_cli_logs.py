"""The `wallet` command logs its jobs' progress as JSON lines on stderr when stderr is not a terminal (cron,
systemd, a pipe), and nothing extra on a terminal; what it prints on stdout is the same either way."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

WALLET = str(Path(sys.executable).parent / "wallet")


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
    return {**base, "WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
            "WALLET_INSTANCE_PATH": str(tmp_path / "instance"), **extra}


def test_verify_logs_json_lines_when_stderr_is_a_pipe(database_url, world, tmp_path):
    env = _env(database_url, tmp_path)
    run = subprocess.run([WALLET, "verify"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines()]  # every stderr line is JSON
    [finished] = [line for line in lines if line["event"] == "verify finished"]
    assert finished["failed"] == 0 and finished["level"] == "info" and finished["logger"] == "cli.ledger"
    in_process = CliRunner().invoke(cli, ["verify"], env=env, catch_exceptions=False)
    assert run.stdout == in_process.stdout


def test_verify_writes_no_log_lines_on_a_terminal(database_url, world, tmp_path):
    controller, terminal = pty.openpty()
    try:
        run = subprocess.run([WALLET, "verify"], stdout=subprocess.PIPE, stderr=terminal, text=True,
                             env=_env(database_url, tmp_path), timeout=120, check=False)
        os.close(terminal)
        terminal = -1
        written = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert run.returncode == 0
    assert written == b""
    assert run.stdout


def test_a_bad_log_format_is_a_clear_configuration_error(database_url, tmp_path):
    run = subprocess.run([WALLET, "verify"], capture_output=True, text=True, timeout=60, check=False,
                         env=_env(database_url, tmp_path, WALLET_LOG_FORMAT="xml"))
    assert run.returncode != 0 and "WALLET_LOG_FORMAT must be one of json, console" in run.stderr
    assert "Traceback" not in run.stderr
