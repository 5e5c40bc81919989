"""What the request log line costs: in-process requests with the line written (INFO, JSON to /dev/null) against
the same requests with it filtered out (WARNING), in one run, alternating rounds; prints the ratio.

    .venv/bin/python -m tests.bench.bench_request_log

The request is GET /healthz, the cheapest there is, so the ratio is an upper bound for every other request
(an ingest batch of 100 events takes tens of milliseconds, see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from api import create_app
from wallet import logs

ROUNDS, PER_ROUND = 7, 2000


def _per_request_us(client, level: int) -> float:  # type: ignore[no-untyped-def]
    logging.getLogger().setLevel(level)
    started = time.perf_counter()
    for _ in range(PER_ROUND):
        client.get("/healthz")
    return (time.perf_counter() - started) / PER_ROUND * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, open("/dev/null", "w") as sink:
        logs.install("json", "INFO", stream=sink)
        app = create_app({"WALLET_ENV": "test", "WALLET_DATABASE_URL": f"sqlite:///{Path(folder) / 'b.sqlite3'}",
                          "WALLET_INSTANCE_PATH": folder, "WALLET_RATE_LIMITS": "off"})
        client = app.test_client()
        _per_request_us(client, logging.INFO)  # warm-up
        with_line, without = [], []
        for _ in range(ROUNDS):
            with_line.append(_per_request_us(client, logging.INFO))
            without.append(_per_request_us(client, logging.WARNING))
    best_with, best_without = min(with_line), min(without)
    print(f"GET /healthz in process: {best_without:.0f} us without the line, {best_with:.0f} us with it; "
          f"the line costs {best_with - best_without:.0f} us, ratio {best_with / best_without:.2f}")


if __name__ == "__main__":
    main()
