"""`wallet notify-worker` as the operator runs it: the real command in a subprocess, killed with SIGKILL in
the middle of deliveries and started again, loses no notification; bad configuration is a clear error with
exit status 3; `--status` and `--retry-dead` show and mend the delivery state. Both databases."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main as wallet_cli
from tests.push_factories import NOW, push_world_fixture  # noqa: F401 - the push_world fixture
from tests.push_gateway import running_gateway, write_secret
from wallet.models import PushDelivery
from wallet.parents import push

WALLET = str(Path(sys.executable).with_name("wallet"))
FAST = {"WALLET_PUSH_BACKOFF_BASE_S": "0.01", "WALLET_PUSH_BACKOFF_CAP_S": "0.05", "WALLET_PUSH_POLL_S": "0.05",
        "WALLET_PUSH_TIMEOUT_S": "5", "WALLET_PUSH_BATCH": "3"}


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
    return {**env, "WALLET_ENV": "development", "WALLET_DATABASE_URL": database_url,
            "WALLET_INSTANCE_PATH": str(tmp_path / "instance"), **extra}


def _key(note: int, link: int) -> str:
    return push.idempotency_key(push.PushPolicy(), note, link)


def test_no_notification_is_lost_when_the_worker_is_killed_mid_delivery(database_url, tmp_path, session_factory,
                                                                         push_world):
    """Killed while the gateway holds a request it has accepted (the worker never learns it was delivered)
    or one it has not (it never arrived), four times; then started again: the gateway's set of distinct
    webhook-ids is exactly the deliverable set, and the accepted-but-unrecorded ones came twice."""
    secret_file, secret = write_secret(tmp_path)
    arm = {"at": -1, "mode": "ok"}
    kills = ["hold", "hold_early", "hold", "hold_early"]
    with running_gateway(secret, lambda n, _id: arm["mode"] if n == arm["at"] else "ok") as gateway:
        env = _env(database_url, tmp_path, WALLET_PUSH_URL=gateway.url, WALLET_PUSH_SECRET_FILE=str(secret_file),
                   **FAST)
        for mode in kills:
            gateway.held.clear()
            gateway.release.clear()
            arm.update(at=gateway.requests + 5, mode=mode)
            worker = subprocess.Popen([WALLET, "notify-worker"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
            try:
                assert gateway.held.wait(60), "the worker sent nothing"
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                gateway.release.set()
            assert worker.returncode == -signal.SIGKILL
        with session_factory() as session:
            assert session.scalar(select(func.count()).where(PushDelivery.state == "pending")) > 0
        done = subprocess.run([WALLET, "notify-worker", "--drain"], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert set(gateway.accepted) == {_key(n, link) for n, link in push_world.expected}
    assert gateway.duplicates >= kills.count("hold") and gateway.changed_bodies == []
    with session_factory() as session:
        status = push.push_status(session, dt.datetime.now(dt.UTC))
    assert status.counts["delivered"] == len(push_world.expected) and status.backlog == 0


def test_two_workers_on_postgresql_share_the_work_without_sending_anything_twice(database_url, tmp_path,
                                                                               session_factory, push_world):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL's row locks; on SQLite one worker runs")
    secret_file, secret = write_secret(tmp_path)
    with running_gateway(secret) as gateway:
        env = _env(database_url, tmp_path, WALLET_PUSH_URL=gateway.url, WALLET_PUSH_SECRET_FILE=str(secret_file),
                   **{**FAST, "WALLET_PUSH_BATCH": "2"})
        workers = [subprocess.Popen([WALLET, "notify-worker", "--drain"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert set(gateway.accepted) == {_key(n, link) for n, link in push_world.expected}
    assert gateway.duplicates == 0  # a row claimed by one worker is skipped by the other, never sent twice


def test_sigterm_stops_the_worker_cleanly(database_url, tmp_path):
    secret_file, secret = write_secret(tmp_path)
    with running_gateway(secret) as gateway:
        env = _env(database_url, tmp_path, WALLET_PUSH_URL=gateway.url.replace("//", "//user:pw@"),
                   WALLET_PUSH_SECRET_FILE=str(secret_file), **FAST)
        worker = subprocess.Popen([WALLET, "notify-worker"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        first = worker.stdout.readline()  # the worker is running once it has said where it delivers
        worker.send_signal(signal.SIGTERM)
        rest, errors = worker.communicate(timeout=60)
    assert worker.returncode == 0, errors
    assert first.startswith("notify-worker: delivering to http://127.0.0.1:") and "pw" not in first
    assert rest.strip().endswith("notify-worker: stopped")


BAD_CONFIG = [
    ({}, "WALLET_PUSH_URL is required"),
    ({"WALLET_PUSH_URL": "gateway.example/push"}, "WALLET_PUSH_URL must be an"),
    ({"WALLET_PUSH_URL": "ftp://gateway.example/push"}, "WALLET_PUSH_URL must be an"),
    ({"WALLET_PUSH_URL": "https://gateway.example:99999/push"}, "not a well-formed URL"),
    ({"WALLET_PUSH_URL": "https://gateway.example/push"}, "WALLET_PUSH_SECRET_FILE is required"),
    ({"WALLET_PUSH_URL": "https://gateway.example/push", "WALLET_PUSH_SECRET_FILE": "/nonexistent/secret"},
     "cannot be read"),
    ({"WALLET_PUSH_URL": "https://gateway.example/push", "secret": "not-a-secret"}, "must hold whsec_"),
    ({"WALLET_PUSH_URL": "https://gateway.example/push", "secret": "ok", "WALLET_PUSH_MAX_ATTEMPTS": "0"},
     "WALLET_PUSH_MAX_ATTEMPTS must be between"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_CONFIG)
def test_bad_configuration_is_a_clear_error_with_exit_status_3(tmp_path, settings, message):
    extra = {k: v for k, v in settings.items() if k != "secret"}
    if "secret" in settings:
        path, _ = write_secret(tmp_path, None if settings["secret"] == "ok" else settings["secret"])
        extra["WALLET_PUSH_SECRET_FILE"] = str(path)
    env = _env(f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path, **extra)
    result = subprocess.run([WALLET, "notify-worker"], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 3
    assert result.stderr.startswith("wallet: configuration error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_status_and_retry_dead(database_url, tmp_path, session_factory, push_world):
    policy = push.PushPolicy(max_attempts=1, backoff_base_s=0.01, backoff_cap_s=0.05, batch_size=500)
    with session_factory() as session:
        push.Enqueuer(policy)(session, NOW)
        push.deliver_due(session, lambda _id, _body: push.SendResult(503), policy, clock=lambda: NOW)
    env = _env(database_url, tmp_path)
    run = CliRunner().invoke(wallet_cli.cli, ["notify-worker", "--status"], env=env, catch_exceptions=False)
    assert run.exit_code == 0
    lines = dict(line.split(None, 1) for line in run.output.splitlines() if not line.startswith("oldest"))
    assert lines["dead"] == str(len(push_world.expected)) and lines["pending"] == "0"
    assert lines["withheld"] == str(len(push_world.withheld)) and "oldest pending: none pending" in run.output
    run = CliRunner().invoke(wallet_cli.cli, ["notify-worker", "--retry-dead", "--status"], env=env,
                             catch_exceptions=False)
    assert run.exit_code == 0 and f"requeued {len(push_world.expected)} dead deliveries" in run.output
    lines = dict(line.split(None, 1) for line in run.output.splitlines()[1:] if not line.startswith("oldest"))
    assert lines["dead"] == "0" and lines["pending"] == str(len(push_world.expected))
    assert "oldest pending: " in run.output and "none pending" not in run.output


def test_prune_notifications_deletes_only_rows_past_the_retention(database_url, tmp_path, session_factory,
                                                                   push_world, world):
    """Rows older than --older-than-days go, younger ones stay (whatever their kind); a bad number is exit 2."""
    from tests.push_factories import _note
    from wallet.models import ParentNotification

    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        old = [_note(session, kid, world.school.id, now - dt.timedelta(days=days, seconds=n))
               for n, (kid, days) in enumerate([(world.eligible[0], 31), (world.eligible[1], 400)])]
        kept = _note(session, world.eligible[0], world.school.id, now - dt.timedelta(days=29))
        session.commit()
        before = session.scalar(select(func.count()).select_from(ParentNotification))
    env = _env(database_url, tmp_path)
    run = CliRunner().invoke(wallet_cli.cli, ["prune-notifications", "--older-than-days", "30"], env=env,
                             catch_exceptions=False)
    assert run.exit_code == 0 and run.output.startswith(f"deleted {len(old)} outbox rows created before ")
    with session_factory() as session:
        ids = set(session.scalars(select(ParentNotification.id)))
        assert not ids & set(old) and kept in ids and len(ids) == before - len(old)
    for bad in ("0", "-1", "x", "3651"):
        run = CliRunner().invoke(wallet_cli.cli, ["prune-notifications", "--older-than-days", bad], env=env)
        assert run.exit_code == 2, (bad, run.output)
