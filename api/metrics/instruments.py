"""The process's instruments. Imported only after PROMETHEUS_MULTIPROC_DIR is decided (see api/metrics).

Labels are bounded sets: route templates (never raw paths, which hold ids), statuses, verdicts, reason codes.
There is deliberately no school label: 7,000 schools times the histogram's buckets would be ~100,000 series
per worker, more than a Prometheus should hold for one service, and an operator finds a slow school from the
ledger, not from a time series. Append latency is therefore one histogram over all chains.

Gauges a worker samples for itself (open streams, pool use) are summed over live workers (`livesum`): the
files of a dead worker are dropped by gunicorn's `child_exit` hook (multiprocess.mark_process_dead).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# In one process (tests with Flask's client, `flask run`) the instruments live in this registry; in
# multi-process mode they are read from the directory's files and need no registry.
REGISTRY: CollectorRegistry | None = None if MULTIPROCESS else CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)

http_requests = Counter(
    "wallet_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"], registry=REGISTRY)
http_duration = Histogram(
    "wallet_http_request_duration_seconds",
    "Time from the request's start until its response was ready (a stream: until its body began).",
    ["method", "route"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
ingest_events = Counter(
    "wallet_ingest_events", "Meal events in terminal batches, by result status and the ledger's verdict.",
    ["status", "verdict"], registry=REGISTRY)
ingest_reasons = Counter(
    "wallet_ingest_reasons",
    "Why events were not billable (the entry's reasons) or not stored (the refusal's code), one per reason.",
    ["reason"], registry=REGISTRY)
ingest_batch_events = Histogram(
    "wallet_ingest_batch_events", "Events per terminal batch.", buckets=BATCH_BUCKETS, registry=REGISTRY)
ingest_append = Histogram(
    "wallet_ingest_append_seconds",
    "Time to judge a batch and append it to its school's chain, commit included (all chains; no school label).",
    buckets=LATENCY_BUCKETS, registry=REGISTRY)
# The server does not see a terminal's queue, only what arrives: the age of each batch's oldest meal says
# how long meals waited on terminals (offline canteens, failing uploads) before the ledger had them.
AGE_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)
ingest_oldest_meal_age = Histogram(
    "wallet_ingest_oldest_meal_age_seconds",
    "Per batch: time from its oldest meal's servedAt (terminal clock) to the batch's arrival.",
    buckets=AGE_BUCKETS, registry=REGISTRY)
open_streams = Gauge(
    "wallet_notification_streams_open", "Parents' notification streams open now (all live workers).",
    multiprocess_mode="livesum", registry=REGISTRY)
pool_checked_out = Gauge(
    "wallet_db_pool_checked_out", "Database connections in use now (all live workers).",
    multiprocess_mode="livesum", registry=REGISTRY)
# 1 for each live worker that has WALLET_REDIS_URL but counts its rate limits in its own memory, because Redis
# does not answer (api/ratelimit.py falls back so that the API stays up; the limits then multiply).
rate_limit_redis_unreachable = Gauge(
    "wallet_rate_limit_redis_unreachable",
    "Live workers counting rate limits in their own memory although Redis is configured (it does not answer).",
    multiprocess_mode="livesum", registry=REGISTRY)
pool_size = Gauge(
    "wallet_db_pool_size", "Database connections the pools keep (all live workers; overflow not included).",
    multiprocess_mode="livesum", registry=REGISTRY)
