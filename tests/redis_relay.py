"""Redis for the rate-limit tests: the machine's own (127.0.0.1:6379), a unique key prefix per test, and a
loopback relay in front of it that a test can cut and mend, so that "Redis went away" and "Redis came back"
happen on demand without touching the Redis others use.

The relay is a stand-in for the network path, not a server: it forwards bytes to the real Redis while
`up`, refuses connections while `down` (its port is closed, as a dead host's would be) and, while `hung`,
accepts connections but never answers (as a Redis stuck on a slow disk would).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def redis_client() -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2, socket_connect_timeout=2)


def require_redis() -> redis.Redis:
    client = redis_client()
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):  # CI has Redis: its absence is a failure there, not a skip
            raise
        pytest.skip(f"no Redis at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    return client


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    client = require_redis()
    prefix = f"wallet-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(client, prefix)
    client.close()


class Relay:
    """A loopback port in front of the real Redis; `state` is "up", "down" or "hung"."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.state = "down"
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        self._set("up")

    def hang(self) -> None:
        self._set("hung")

    def down(self) -> None:
        self._set("down")

    def _set(self, state: str) -> None:
        self._drop_all()
        self.state = state
        if state != "down" and self._listener is None:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
            self._thread.start()

    def _drop_all(self) -> None:
        """Close the listening port and every connection (clients see their connections die)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def _serve(self, listener: socket.socket) -> None:
        pairs: dict[socket.socket, socket.socket | None] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is listener:
                        self._accept(listener, selector, pairs)
                    else:
                        self._pump(sock, selector, pairs)

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector,
                pairs: dict[socket.socket, socket.socket | None]) -> None:
        client, _ = listener.accept()
        with self._lock:
            self._sockets.add(client)
        if self.state == "hung":
            pairs[client] = None  # read and drop what it sends; never answer
            selector.register(client, selectors.EVENT_READ)
            return
        server = socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2)
        with self._lock:
            self._sockets.add(server)
        pairs[client], pairs[server] = server, client
        selector.register(client, selectors.EVENT_READ)
        selector.register(server, selectors.EVENT_READ)

    def _pump(self, sock: socket.socket, selector: selectors.BaseSelector,
              pairs: dict[socket.socket, socket.socket | None]) -> None:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        peer = pairs.get(sock)
        if data and peer is not None:
            with contextlib.suppress(OSError):
                peer.sendall(data)
            return
        if data:
            return
        for end in (sock, peer):
            if end is not None and end in pairs:
                selector.unregister(end)
                pairs.pop(end, None)
                end.close()

    def close(self) -> None:
        self._drop_all()
        self.state = "down"


@pytest.fixture
def relay() -> Iterator[Relay]:
    """A relay to the real Redis, up at the start; closed at teardown."""
    require_redis().close()
    relay = Relay()
    relay.up()
    yield relay
    relay.close()
