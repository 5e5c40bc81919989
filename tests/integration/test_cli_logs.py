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


def test_a_migration_logs_one_line_of_its_own_and_no_alembic_chatter(tmp_path):
    """Alembic says "Context impl SQLiteImpl." and "Will assume non-transactional DDL." at INFO whenever the
    revision is looked at: quiet; the upgrade itself is one structured line with both revisions."""
    env = _env(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)
    run = subprocess.run([WALLET, "migrate"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["database migrated"], lines
    assert lines[0]["from_revision"] is None and lines[0]["to_revision"] == run.stdout.split()[-1]
    again = subprocess.run([WALLET, "migrate"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert again.returncode == 0 and again.stderr == ""


def test_the_commands_for_people_log_as_on_a_terminal_wherever_their_output_goes(tmp_path):
    """`wallet demo-data` (as `make run` runs it, output piped or not) writes its report and no JSON lines."""
    env = _env(f"sqlite:///{tmp_path / 'demo.sqlite3'}", tmp_path)
    run = subprocess.run([WALLET, "demo-data", "--students", "20"], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "" and "demo world (seed 2026)" in run.stdout
