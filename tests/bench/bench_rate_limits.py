"""Rate-limit cost: what the limiter adds to a request, counted in memory and in Redis.

Run from the repository root (SQLite in a temporary folder; Redis at 127.0.0.1:6379 for the Redis figure):

    .venv/bin/python -m tests.bench.bench_rate_limits [--seconds 1] [--rounds 8]

In-process, one thread, through the Flask test client: anonymous requests to a path that does not exist
(a 404 problem, about the cheapest request the app answers, so the limiter's share is at its largest; a
terminal upload costs milliseconds), each from an address of its own (every caller far below its limit, as
real ones are), at the default limits. The baseline, measured in the same run, is the same app with
WALLET_RATE_LIMITS=off; the configurations take turns for `--rounds` rounds of `--seconds` and each keeps
its best. Keys in Redis are under a prefix of this run's own, deleted at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import uuid
from pathlib import Path

import redis

from api import create_app
from wallet.config import settings_from_env
from wallet.db import make_engine
from wallet.migrate import upgrade

REDIS_URL = "redis://127.0.0.1:6379/0"


class Addresses:
    """A new client address for each request: every caller far below its limit, as real ones are."""

    def __init__(self) -> None:
        self.sent = 0

    def next(self) -> str:
        self.sent += 1
        return f"10.{self.sent >> 16 & 255}.{self.sent >> 8 & 255}.{self.sent & 255}"


def rate(client, addresses: Addresses, seconds: float) -> float:  # type: ignore[no-untyped-def]
    count, start = 0, time.perf_counter()
    while (now := time.perf_counter()) < start + seconds:
        for _ in range(100):
            response = client.get("/no-such-page", environ_overrides={"REMOTE_ADDR": addresses.next()})
            assert response.status_code == 404, response.status_code
            response.close()
        count += 100
    return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wallet-bench-limits-"))
    settings = settings_from_env({"WALLET_ENV": "test", "WALLET_INSTANCE_PATH": str(folder),
                                  "WALLET_DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}"})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    prefix = f"wallet-bench-{uuid.uuid4().hex[:8]}"
    # The default limits: every request is looked at and counted, none refused.
    limited = dataclasses.replace(settings, rate_limits_enabled=True)
    configurations = {"off (baseline)": dataclasses.replace(settings, rate_limits_enabled=False),
                      "memory": limited,
                      "redis": dataclasses.replace(limited, redis_url=REDIS_URL, redis_prefix=prefix)}
    clients = {name: create_app(s, engine=engine).test_client() for name, s in configurations.items()}
    addresses = {name: Addresses() for name in clients}
    best = dict.fromkeys(clients, 0.0)
    try:
        # The configurations take turns, round after round (the later ones first every other round), so that
        # a noisy neighbour's burst does not fall on one of them only; each keeps its best round.
        for n in range(args.rounds):
            for name in (list(clients) if n % 2 == 0 else list(reversed(clients))):
                best[name] = max(best[name], rate(clients[name], addresses[name], args.seconds))
        base = best["off (baseline)"]
        for name, value in best.items():
            print(f"{name:>15}: {value:8.0f} requests/s  {value / base:6.3f} x baseline  "
                  f"+{(1 / value - 1 / base) * 1e6:7.1f} us/request")
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


if __name__ == "__main__":
    main()
