"""Rate limits across processes under real gunicorn: counted in each process alone by default (a client gets
the budget once per process), shared through Redis with WALLET_REDIS_URL (the budget once in all), and, with
Redis unreachable, counted in each process alone again while every request is still answered and each
process says so once in its log.

Which process answers is not left to the kernel: two separate gunicorn servers (one worker each, the
production config api/gunicorn_conf.py) on the same database, the same instance directory (so the same
secret key keys the pseudonyms) and the same Redis prefix are two processes exactly as two hosts are, and
the test sends each request to the one it means.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.live_server import LiveServer, free_port
from tests.redis_relay import REDIS_HOST, REDIS_PORT, redis_client, redis_prefix  # noqa: F401

LIMIT = 5  # anonymous requests a minute per client address
EXTRA = 3  # requests beyond the limit sent to each process
FALLBACK_WARNING = "did not answer"


def anonymous_requests(server: LiveServer, n: int) -> list[int]:
    """Statuses of `n` requests without a token to a path that does not exist (counted by address)."""
    return [requests.get(f"{server.url}/no-such-page", timeout=30).status_code for _ in range(n)]


def limited_env(**extra: str) -> dict[str, str]:
    return {"WALLET_RATE_LIMITS": "on", "WALLET_RATE_LIMIT_ADDRESS_PER_MIN": str(LIMIT), **extra}


def two_hosts(start_server: Callable[..., LiveServer], env: dict[str, str]) -> tuple[LiveServer, LiveServer]:
    return start_server(env=env, workers=1), start_server(env=env, workers=1)


def one_host_after_the_other(a: LiveServer, b: LiveServer) -> tuple[list[int], list[int]]:
    """LIMIT + EXTRA requests answered by A, then as many by B."""
    return anonymous_requests(a, LIMIT + EXTRA), anonymous_requests(b, LIMIT + EXTRA)


def fallback_warnings(server: LiveServer) -> list[str]:
    return [line for line in server.log().splitlines() if FALLBACK_WARNING in line]


def test_per_process_counts_give_a_client_the_budget_once_per_process(start_server):
    """The embedded default, and why Redis is offered: two processes let 2 x LIMIT through."""
    a, b = two_hosts(start_server, limited_env())
    at_a, at_b = one_host_after_the_other(a, b)
    for statuses in (at_a, at_b):  # each process counts alone, from zero
        assert statuses == [404] * LIMIT + [429] * EXTRA, (at_a, at_b)


def test_two_processes_counting_in_redis_give_a_client_the_budget_once(start_server, redis_prefix):  # noqa: F811
    a, b = two_hosts(start_server, limited_env(WALLET_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
                                               WALLET_REDIS_PREFIX=redis_prefix))
    at_a, at_b = one_host_after_the_other(a, b)
    # Sequential requests: the moving window is exact (no slack; see docs/decisions.md for concurrent ones).
    assert at_a == [404] * LIMIT + [429] * EXTRA, at_a
    assert at_b == [429] * (LIMIT + EXTRA), at_b  # B sees what A counted: nothing is left of the budget
    assert list(redis_client().scan_iter(match=f"{redis_prefix}:*")), "the counts are in Redis, under the prefix"
    assert not fallback_warnings(a) and not fallback_warnings(b)


def test_with_redis_unreachable_every_request_is_answered_and_each_process_counts_alone(start_server):
    closed = free_port()  # nothing listens there: connections are refused
    a, b = two_hosts(start_server, limited_env(WALLET_REDIS_URL=f"redis://127.0.0.1:{closed}/0"))
    at_a, at_b = one_host_after_the_other(a, b)
    for statuses in (at_a, at_b):  # no 500, no 503: the limiter never takes the API down; memory keeps the limit
        assert statuses == [404] * LIMIT + [429] * EXTRA, (at_a, at_b)
    for server in (a, b):
        warnings = fallback_warnings(server)
        assert len(warnings) == 1, server.log()  # once per process, not once per request
        assert f"127.0.0.1:{closed}" in warnings[0]
