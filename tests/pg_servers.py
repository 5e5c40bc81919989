"""PostgreSQL servers of a test's own: a primary made with initdb and streaming standbys made with
pg_basebackup, each in a temporary folder on a free port, stopped (or killed) by the test. Used by the read
replica and failover tests and by tests/bench/failover_drill.py.

PostgreSQL refuses to run as root: when the tests run as root, every server command runs as the `postgres`
OS user (runuser), and the folders are given to it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

BIN = Path(os.environ.get("WALLET_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"


def available() -> str | None:
    """Why servers cannot be made here, or None when they can."""
    if not (BIN / "initdb").exists() or not (BIN / "pg_basebackup").exists():
        return f"no initdb/pg_basebackup under {BIN} (set WALLET_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return "running as root without a postgres OS user"
    return None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str]) -> str:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _own_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("WALLET_PG_TMP", "/tmp")))
    if os.geteuid() == 0:
        user = pwd.getpwnam(OS_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    return folder


class Server:
    """One PostgreSQL server: its data folder, port and log."""

    def __init__(self, folder: Path, port: int, name: str) -> None:
        self.folder, self.port, self.name = folder, port, name
        self.data = folder / "data"
        self.log = folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def libpq_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def configure(self, **settings: str) -> None:
        with (self.data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = '{value}'\n")

    def start(self) -> None:
        _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(RuntimeError):
            _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def kill(self) -> None:
        """kill -9 of the postmaster and every backend: a crash, not a shutdown."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
        os.kill(pid, signal.SIGKILL)
        for child in children.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGKILL)

    def promote(self) -> None:
        _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote"])

    def sql(self, statement: str, database: str = "postgres") -> object:
        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.execute(text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def remove(self) -> None:
        self.stop("immediate")
        for _ in range(20):  # a server that was just stopped may still be removing its own files
            shutil.rmtree(self.folder, ignore_errors=True)
            if not self.folder.exists():
                return
            time.sleep(0.1)


def make_primary(*, sync_standby: str | None = None, fsync: bool = False) -> Server:
    """A fresh primary that accepts streaming standbys; with `sync_standby`, commits wait for that standby's
    flush (synchronous_commit on, the default): an acknowledged commit is on two servers."""
    folder = _own_folder("wallet-pg-primary-")
    server = Server(folder, free_port(), "primary")
    _run([str(BIN / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync"])
    server.configure(listen_addresses="127.0.0.1", port=str(server.port), unix_socket_directories=str(folder),
                     wal_level="replica", max_wal_senders="10", max_connections="100", fsync="on" if fsync else "off",
                     shared_buffers="64MB", synchronous_standby_names=sync_standby or "")
    server.start()
    return server


def make_standby(primary: Server, name: str) -> Server:
    """A streaming standby of `primary` (pg_basebackup -R), hot (readable), named for synchronous_standby_names."""
    folder = _own_folder(f"wallet-pg-{name}-")
    server = Server(folder, free_port(), name)
    _run([str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
          "-D", str(server.data), "-R", "-X", "stream", "-c", "fast"])
    # pg_basebackup copies the primary's settings: a standby promoted with the primary's
    # synchronous_standby_names would wait for a standby of its own that does not exist, and hang every commit.
    server.configure(port=str(server.port), unix_socket_directories=str(folder), hot_standby="on",
                     cluster_name=name, synchronous_standby_names="")
    server.start()
    return server


def wait_replayed(primary: Server, standby: Server, timeout_s: float = 60.0) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    target = primary.sql("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        caught_up = standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        if caught_up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{standby.name} did not replay up to {target} in {timeout_s} s")


def wait_streaming(primary: Server, name: str, *, sync: bool = False, timeout_s: float = 60.0) -> None:
    """Until the primary streams to `name` (and, with `sync`, counts it as its synchronous standby: a
    standby is reported `async` until its first reply, a moment after streaming begins)."""
    condition = "state = 'streaming'" + (" AND sync_state = 'sync'" if sync else "")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if primary.sql(f"SELECT count(*) FROM pg_stat_replication WHERE application_name = '{name}' "
                       f"AND {condition}"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} is not streaming{' synchronously' if sync else ''} after {timeout_s} s")
