"""What the metrics cost per terminal batch, measured in-process: the recorder's work for one batch of 100
events (its request's counter and histogram, the batch's counters and histograms) in prometheus-client's
multi-process mode (memory-mapped files, as under gunicorn). A precise bound for what the noisy HTTP rounds of
bench_ingest --metrics both cannot resolve on a shared machine.

    .venv/bin/python -m tests.bench.bench_metrics_recorder [--batches 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class Entry:
    verdict: str
    reason_list: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    status: str
    entry: Entry | None
    code: str | None = None


def batch_of_100() -> list[Outcome]:
    """A lunch batch as bench_ingest sends: mostly billable, some refused, one invalid."""
    outcomes = [Outcome("recorded", Entry("billable")) for _ in range(90)]
    outcomes += [Outcome("recorded", Entry("not_billable", ["not_eligible"])) for _ in range(6)]
    outcomes += [Outcome("recorded", Entry("not_billable", ["duplicate_meal"])) for _ in range(3)]
    outcomes.append(Outcome("invalid", None, "validation_failed"))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wallet-bench-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # before prometheus_client is imported
        from api.metrics.recorder import Recorder

        recorder = Recorder()
        results = batch_of_100()
        now = dt.datetime.now(dt.UTC)
        served = now - dt.timedelta(seconds=30)
        per_batch: list[float] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.batches):
                recorder.request("POST", "/api/v1/terminal/events", 200, 0.05)
                recorder.batch(results, 0.03, oldest_served_at=served, received_at=now)
            per_batch.append((time.perf_counter() - started) / args.batches)
    median_us = statistics.median(per_batch) * 1e6
    print(f"recorder per batch of 100 events, multi-process mode: median {median_us:.1f} us over {args.rounds} "
          f"rounds of {args.batches} (min {min(per_batch) * 1e6:.1f}, max {max(per_batch) * 1e6:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
