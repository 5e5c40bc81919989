"""The witness's memory on disk: one small JSON file per log, replaced atomically.

Write to a temporary file, fsync it, rename it over the old one, fsync the directory: after a crash at
any instant the file is either the old state or the new one, never a mix. The caller takes `lock()`
around read-check-write, so two requests cannot both advance from the same state (the race the spec
describes), across threads and across processes.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LogState", "StateStore"]

_THREAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class LogState:
    origin: str
    size: int
    root_hash: bytes
    checkpoint: str  # the cosigned note: the log's verified signatures and ours


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.logs_dir = self.directory / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def origin_hash(origin: str) -> str:
        return hashlib.sha256(origin.encode()).hexdigest()

    def _path(self, origin: str) -> Path:
        return self.logs_dir / f"{self.origin_hash(origin)}.json"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # One lock for all logs: requests are rare and small, and a single lock is easy to reason about.
        with _THREAD_LOCK, open(self.directory / "state.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, origin: str) -> LogState | None:
        return self.load_path(self._path(origin))

    def load_by_hash(self, origin_hash: str) -> LogState | None:
        if len(origin_hash) != 64 or any(c not in "0123456789abcdef" for c in origin_hash):
            return None
        return self.load_path(self.logs_dir / f"{origin_hash}.json")

    @staticmethod
    def load_path(path: Path) -> LogState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return LogState(data["origin"], int(data["size"]), base64.b64decode(data["rootHash"]), data["checkpoint"])

    def save(self, state: LogState) -> None:
        """Durably replace the log's state; returns only once a crash can no longer lose it."""
        path = self._path(state.origin)
        tmp = path.with_suffix(".tmp")
        data = json.dumps({
            "origin": state.origin,
            "size": state.size,
            "rootHash": base64.b64encode(state.root_hash).decode(),
            "checkpoint": state.checkpoint,
        }).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.logs_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
