"""Witness processes for e2e tests: `wallet-witness serve` on a free port, started and killed for real."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.live_server import free_port
from witness import config as witness_config

WALLET_WITNESS = str(Path(sys.executable).parent / "wallet-witness")


class WitnessProcess:
    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.cosigner = witness_config.init_dir(directory, name)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def trust(self, origin: str, vkey: str) -> None:
        witness_config.add_log(self.directory, origin, vkey)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [WALLET_WITNESS, "serve", "--dir", str(self.directory), "--bind", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"witness exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{self.url}/healthz-none", timeout=1)
                return
            time.sleep(0.05)
        raise RuntimeError("witness did not start")

    def kill9(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process.stderr.close()  # type: ignore[union-attr]
            self.process = None
