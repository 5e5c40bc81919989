"""Gauges read from the database when Prometheus scrapes, not on requests: a custom collector.

One scrape reads a few aggregates (no per-terminal or per-school series) under a statement timeout, and the
figures are kept for CACHE_S, so several Prometheus servers (or a scrape storm) cost one read per worker per
CACHE_S. A failed or slow read never fails the scrape: `wallet_metrics_database_up` says 0, the rest is left
out until the next good read.

The outbox: rows stay until retention deletes them (wallet.parents.notifications), and parents' streams
read them by cursor, so the outbox has no "delivered" state of its own. A consumer that has one registers a
function with `register_outbox_consumer`; its backlog and the age of its oldest pending row are reported per
consumer. Push delivery to the national app (`wallet notify-worker`, wallet.parents.push) is registered here
as `push`, and its deliveries are counted by state too (`dead` is the dead-letter state).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, case, func, select, text
from sqlalchemy.orm import Session

from wallet.evidence.codes import RULES
from wallet.models import (
    PUSH_STATES,
    RULING_OUTCOMES,
    Checkpoint,
    Finding,
    FindingRuling,
    ParentNotification,
    Terminal,
    VerificationRun,
)
from wallet.parents.push import push_status

log = logging.getLogger(__name__)

CACHE_S = 15.0
STATEMENT_TIMEOUT_MS = 2000
# "Silent for longer than": cumulative counts of active terminals, like a histogram's buckets, so an alert
# picks its threshold without a series per terminal.
SILENCE_BUCKETS: tuple[tuple[str, dt.timedelta], ...] = (
    ("15m", dt.timedelta(minutes=15)), ("1h", dt.timedelta(hours=1)), ("4h", dt.timedelta(hours=4)),
    ("1d", dt.timedelta(days=1)), ("7d", dt.timedelta(days=7)),
)


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: dt.datetime | None


OutboxConsumer = Callable[[Session], Backlog]
_CONSUMERS: dict[str, OutboxConsumer] = {}


def register_outbox_consumer(name: str, backlog: OutboxConsumer) -> None:
    """Report a delivery's backlog (e.g. `register_outbox_consumer("push", push_backlog)`) on every scrape."""
    _CONSUMERS[name] = backlog


def _push_backlog(session: Session) -> Backlog:
    status = push_status(session, dt.datetime.now(dt.UTC))
    return Backlog(status.backlog, status.oldest_pending_at)


register_outbox_consumer("push", _push_backlog)


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine, *, cache_s: float = CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine, self._cache_s, self._clock = engine, cache_s, clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._cache_s:
                self._metrics = self._read()
                self._read_at = self._clock()
            yield from self._metrics

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily("wallet_metrics_database_up", "Whether the last scrape-time database read worked.")
        started = time.perf_counter()
        try:
            with Session(self._engine) as session, session.begin():
                if self._engine.dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                metrics = read_gauges(session, dt.datetime.now(dt.UTC))
        except Exception:  # a scrape must still answer: the figures are missing, and `up` says why
            log.exception("metrics: the database read failed")
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily("wallet_metrics_database_read_seconds", "How long the last database read took.")
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *metrics]


def read_gauges(session: Session, now: dt.datetime) -> list[Metric]:
    return [*_terminals(session, now), *_outbox(session, now), *_push(session, now), *_checkpoints(session),
            *_verification(session), *_findings(session)]


def _terminals(session: Session, now: dt.datetime) -> list[Metric]:
    active = Terminal.status == "active"
    silent = [func.sum(case((Terminal.last_contact_at < now - age, 1), else_=0)) for _, age in SILENCE_BUCKETS]
    never = func.sum(case((Terminal.last_contact_at.is_(None), 1), else_=0))
    row = session.execute(select(func.count(), never, *silent).where(active)).one()
    total = GaugeMetricFamily("wallet_terminals_active", "Active (enrolled, not revoked) terminals.")
    total.add_metric([], row[0])
    by_silence = GaugeMetricFamily(
        "wallet_terminals_silent",
        "Active terminals whose last batch upload is older than `longer_than` (never: none uploaded yet).",
        labels=["longer_than"])
    by_silence.add_metric(["never"], row[1] or 0)
    for (name, _), count in zip(SILENCE_BUCKETS, row[2:], strict=True):
        by_silence.add_metric([name], count or 0)
    return [total, by_silence]


def _outbox(session: Session, now: dt.datetime) -> list[Metric]:
    count, oldest = session.execute(
        select(func.count(), func.min(ParentNotification.created_at))).one()
    rows = GaugeMetricFamily("wallet_outbox_rows", "Rows in the parents' notification outbox (until retention).")
    rows.add_metric([], count)
    age = GaugeMetricFamily("wallet_outbox_oldest_row_age_seconds", "Age of the outbox's oldest row.")
    age.add_metric([], _age(oldest, now))
    pending = GaugeMetricFamily("wallet_outbox_pending", "Outbox rows a consumer has not delivered yet.",
                                labels=["consumer"])
    lag = GaugeMetricFamily("wallet_outbox_delivery_lag_seconds",
                            "Age of a consumer's oldest undelivered outbox row (0 when it has none).",
                            labels=["consumer"])
    for name, backlog_of in sorted(_CONSUMERS.items()):
        backlog = backlog_of(session)
        pending.add_metric([name], backlog.pending)
        lag.add_metric([name], _age(backlog.oldest_created_at, now))
    return [rows, age, pending, lag]


def _push(session: Session, now: dt.datetime) -> list[Metric]:
    status = push_status(session, now)
    deliveries = GaugeMetricFamily(
        "wallet_push_deliveries", "Pushes to the national app's gateway by state (dead: given up after every attempt).",
        labels=["state"])
    for state in PUSH_STATES:
        deliveries.add_metric([state], status.counts.get(state, 0))
    return [deliveries]


def _checkpoints(session: Session) -> list[Metric]:
    count, newest = session.execute(select(func.count(), func.max(Checkpoint.issued_at))).one()
    made = CounterMetricFamily("wallet_checkpoints", "Signed checkpoints (tree heads) in the database.")
    made.add_metric([], count)
    last = GaugeMetricFamily("wallet_checkpoint_last_issued_timestamp_seconds",
                             "When the newest checkpoint was issued (Unix time; absent before the first).")
    if newest is not None:
        last.add_metric([], _utc(newest).timestamp())
    return [made, last]


def _verification(session: Session) -> list[Metric]:
    rows = session.execute(select(VerificationRun.result, func.count(), func.max(VerificationRun.finished_at))
                           .group_by(VerificationRun.result)).all()
    runs = CounterMetricFamily("wallet_verification_runs", "Chain verification runs recorded, by result.",
                               labels=["result"])
    last = GaugeMetricFamily("wallet_verification_last_finished_timestamp_seconds",
                             "When the newest verification run of each result finished (Unix time).",
                             labels=["result"])
    seen = {result: (count, finished) for result, count, finished in rows}
    for result in ("ok", "mismatch", "error"):
        count, finished = seen.get(result, (0, None))
        runs.add_metric([result], count)
        if finished is not None:
            last.add_metric([result], _utc(finished).timestamp())
    return [runs, last]


def _findings(session: Session) -> list[Metric]:
    """Findings by rule and state (open: no ruling yet; upheld: withheld; dismissed: paid): bounded labels,
    every rule and state always present (a zero is a figure, not a missing series). One grouped read of the
    findings and their rulings (one ruling at most each)."""
    rows = session.execute(
        select(Finding.rule, FindingRuling.outcome, func.count())
        .outerjoin(FindingRuling, FindingRuling.finding_id == Finding.id)
        .group_by(Finding.rule, FindingRuling.outcome)).all()
    counts = {(rule, outcome or "open"): n for rule, outcome, n in rows}
    # A gauge: a ruling moves a finding from open to upheld or dismissed (their sum over states only grows).
    found = GaugeMetricFamily(
        "wallet_findings", "Findings recorded (scan, on append, parents' disputes), by rule and state: open (no "
        "ruling yet, its billable meals' money held), upheld (withheld), dismissed (paid).", labels=["rule", "state"])
    for rule in sorted({*RULES, *(r for r, _ in counts)}):
        for state in ("open", *RULING_OUTCOMES):
            found.add_metric([rule, state], counts.get((rule, state), 0))
    return [found]


def _age(then: dt.datetime | None, now: dt.datetime) -> float:
    return max(0.0, (now - _utc(then)).total_seconds()) if then is not None else 0.0


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
