"""What the views report: a batch's results after the service returned, and each request's route and time."""

from __future__ import annotations

import datetime as dt
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from api.metrics import instruments as m

UNMATCHED_ROUTE = "unmatched"  # a path no route knows (404, 405): never the raw path, which may hold anything


class Recorder:
    def request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        route = route or UNMATCHED_ROUTE
        m.http_requests.labels(method, route, str(status)).inc()
        m.http_duration.labels(method, route).observe(seconds)

    def batch(self, results: Iterable[Any], append_seconds: float, *, oldest_served_at: dt.datetime | None,
              received_at: dt.datetime) -> None:
        """One terminal batch: its size, how long its append took, each event's status, verdict and reasons,
        and how long its oldest meal waited on the terminal (by the terminal's clock)."""
        if oldest_served_at is not None:
            m.ingest_oldest_meal_age.observe(max(0.0, (received_at - oldest_served_at).total_seconds()))
        statuses: Tally[tuple[str, str]] = Tally()
        reasons: Tally[str] = Tally()
        size = 0
        for outcome in results:
            size += 1
            entry = outcome.entry if outcome.status in ("recorded", "replayed") else None
            statuses[(outcome.status, entry.verdict if entry is not None else "none")] += 1
            if entry is not None:
                reasons.update(entry.reason_list)
            elif outcome.code:
                reasons[outcome.code] += 1
        m.ingest_batch_events.observe(size)
        m.ingest_append.observe(append_seconds)
        for (status, verdict), n in statuses.items():
            m.ingest_events.labels(status, verdict).inc(n)
        for reason, n in reasons.items():
            m.ingest_reasons.labels(reason).inc(n)

    def sample(self, *, streams: int, checked_out: int, size: int, redis_unreachable: bool = False) -> None:
        m.open_streams.set(streams)
        m.rate_limit_redis_unreachable.set(int(redis_unreachable))
        m.pool_checked_out.set(checked_out)
        m.pool_size.set(size)
