"""Rate limits under a real gunicorn with two workers: counted in each worker alone by default (a client gets
the budget once per worker), shared through Redis with WALLET_REDIS_URL (the budget once in all), and, with
Redis unreachable, counted in each worker alone again while every request is still answered and each worker
says so once in the log.

Which worker answers is not left to chance: a request whose headers are not finished yet keeps one sync
worker busy reading them (`Held`), so every other request goes to the other worker; the test knows that the
busy worker has taken the connection when the bytes sent on it have been read (/proc/net/tcp).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.live_server import LiveServer, free_port
from tests.redis_relay import REDIS_HOST, REDIS_PORT, redis_client, redis_prefix  # noqa: F401

LIMIT = 5  # anonymous requests a minute per client address
EXTRA = 3  # requests beyond the limit sent to each worker
FALLBACK_WARNING = "did not answer"
ESTABLISHED = "01"  # the state column of /proc/net/tcp


def _hex_port(port: int) -> str:
    return f"{port:04X}"


def unread_bytes(server_port: int, client_port: int) -> int | None:
    """Bytes that the server side of one open loopback connection has not read yet (None: no such connection;
    an earlier one on the same ports, in TIME_WAIT, is not it)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if (state == ESTABLISHED and local.endswith(":" + _hex_port(server_port))
                and remote.endswith(":" + _hex_port(client_port))):
            return int(queues.split(":")[1], 16)
    return None


def until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.01)


class Held:
    """A request to /healthz whose headers are not finished: the worker that takes it reads, and waits, until
    `release()` ends it. Returns once a worker has taken it."""

    def __init__(self, server: LiveServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        client_port = self.sock.getsockname()[1]
        until(lambda: unread_bytes(server.port, client_port) == 0, "a worker reads the held request")

    def release(self) -> None:
        self.sock.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := self.sock.recv(65536):
            answer += chunk
        self.sock.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def anonymous_requests(server: LiveServer, n: int) -> list[int]:
    """Statuses of `n` requests without a token to a path that does not exist (counted by address)."""
    return [requests.get(f"{server.url}/no-such-page", timeout=30).status_code for _ in range(n)]


def one_worker_after_the_other(server: LiveServer) -> list[int]:
    """LIMIT + EXTRA requests answered by one worker, then as many by the other."""
    first = Held(server)  # worker A is busy: B answers
    statuses = anonymous_requests(server, LIMIT + EXTRA)
    second = Held(server)  # A is still busy, so B takes this one
    first.release()  # A is free and B busy: A answers
    statuses += anonymous_requests(server, LIMIT + EXTRA)
    second.release()
    return statuses


def limited_env(**extra: str) -> dict[str, str]:
    return {"WALLET_RATE_LIMITS": "on", "WALLET_RATE_LIMIT_ADDRESS_PER_MIN": str(LIMIT), **extra}


def test_per_process_counts_give_a_client_the_budget_once_per_worker(start_server):
    """The embedded default, and why Redis is offered: two workers let 2 x LIMIT through."""
    server = start_server(env=limited_env(), workers=2)
    statuses = one_worker_after_the_other(server)
    assert statuses.count(404) == 2 * LIMIT and statuses.count(429) == 2 * EXTRA, statuses


def test_two_workers_counting_in_redis_give_a_client_the_budget_once(start_server, redis_prefix):  # noqa: F811
    server = start_server(env=limited_env(WALLET_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
                                          WALLET_REDIS_PREFIX=redis_prefix), workers=2)
    statuses = one_worker_after_the_other(server)
    # Sequential requests: the moving window is exact (no slack; see docs/decisions.md for concurrent ones).
    assert statuses.count(404) == LIMIT and statuses.count(429) == LIMIT + 2 * EXTRA, statuses
    assert list(redis_client().scan_iter(match=f"{redis_prefix}:*")), "the counts are in Redis, under the prefix"
    assert FALLBACK_WARNING not in server.log()


def test_with_redis_unreachable_every_request_is_answered_and_each_worker_counts_alone(start_server):
    closed = free_port()  # nothing listens there: connections are refused
    server = start_server(env=limited_env(WALLET_REDIS_URL=f"redis://127.0.0.1:{closed}/0"), workers=2)
    statuses = one_worker_after_the_other(server)
    assert sorted(set(statuses)) == [404, 429], statuses  # no 500, no 503: the limiter never takes the API down
    assert statuses.count(404) == 2 * LIMIT, statuses  # each worker's own memory keeps the limit
    warnings = [line for line in server.log().splitlines() if FALLBACK_WARNING in line]
    assert len(warnings) == 2, server.log()  # once per worker, not once per request
    assert all(f"127.0.0.1:{closed}" in line for line in warnings)
