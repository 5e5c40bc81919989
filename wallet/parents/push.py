"""Push delivery of the parents' outbox to the national app's push gateway (the `wallet notify-worker` process).

One round: `enqueue` fans the outbox rows out into `push_deliveries`, one pending row per guardian link of
the child; `deliver_due` claims the pending rows that are due, sends each through an injected `Sender`
(wallet.parents.push_http signs and POSTs it) and records what became of it:

- a 2xx answer: `delivered`;
- no answer (timeout, refused or dropped connection), 408, 425, 429 or 5xx: tried again after an exponential
  backoff with full jitter, never sooner than the gateway's Retry-After; `dead` after `max_attempts`;
- any other answer (a 4xx that retrying cannot mend, a redirect): `dead` at once;
- `withheld` instead of sent when the consent rule forbids the row now, or the guardian link is gone; the
  rule is the event stream's (wallet.parents.notifications.withheld_now);
- `expired` instead of sent when the outbox row was pruned first (the delivery row keeps no copy of it).

Every push of one (notification, guardian) carries the same webhook-id (`idempotency_key`) and the same body,
however often it is sent: the gateway keeps the first and drops the rest. So a worker killed after the gateway
answered but before the outcome was committed only causes a duplicate that the gateway drops, never a loss.

Several workers may share one PostgreSQL database: `deliver_due` claims with FOR UPDATE SKIP LOCKED and keeps
the rows locked until their outcomes are committed (a killed worker's locks go with its connection, and the
rows are due again at once). SQLite has no row locks, and its transactions take the write lock (wallet.db), so
there the claim is committed before sending: run one worker on SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import String, bindparam, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wallet.models import PUSH_STATES, GuardianLink, ParentNotification, PushDelivery
from wallet.models.base import UTCDateTime
from wallet.parents.notifications import withheld_now

_NOTES = ParentNotification.__table__
_LINKS = GuardianLink.__table__
_DELIVERIES = PushDelivery.__table__

RETRYABLE_STATUSES = frozenset({408, 425, 429})
# A Retry-After is honoured up to this; a gateway asking for more is asked again after this long.
MAX_RETRY_AFTER_S = 3600.0
# After a scan, the next one reaches back this far before the scan's start: an outbox row is stamped when it
# is inserted and becomes visible when its ingest transaction commits, a moment (never minutes) later.
RESCAN_SLACK = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class PushPolicy:
    """How the worker delivers (wallet.config.push_settings_from_env reads it from the environment)."""

    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    batch_size: int = 20
    # Outbox rows older than this when the worker first sees them are not pushed (a phone that learns of
    # yesterday's lunch is told nothing useful); the event stream and the poll still show them.
    max_age: dt.timedelta = dt.timedelta(hours=24)
    namespace: str = "wallet-push"


@dataclass(frozen=True)
class SendResult:
    """The gateway's answer: its status, or None when none came (timeout, connection refused or dropped)."""

    status: int | None
    retry_after_s: float | None = None
    error: str | None = None


class Sender(Protocol):
    def __call__(self, webhook_id: str, body: bytes) -> SendResult: ...


@dataclass
class RoundReport:
    """What one `deliver_due` did, by outcome."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    withheld: int = 0
    expired: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead + self.withheld + self.expired


@dataclass
class Enqueuer:
    """Fans new outbox rows out into pending deliveries. The first scan covers `policy.max_age`; later ones
    only what is newer than the previous scan (less RESCAN_SLACK), so a quiet round costs an index range."""

    policy: PushPolicy
    last_scan: dt.datetime | None = field(default=None)

    def __call__(self, session: Session, now: dt.datetime) -> int:
        since = now - self.policy.max_age
        if self.last_scan is not None:
            since = max(since, self.last_scan - RESCAN_SLACK)
        added = enqueue(session, since, now)
        self.last_scan = now
        return added


def enqueue(session: Session, since: dt.datetime, now: dt.datetime) -> int:
    """A pending delivery per guardian link for each outbox row created since `since` that has none yet.
    Commits. Concurrent workers may run it together: the unique (notification, link) drops the repeats."""
    rows = (
        select(_NOTES.c.id, _LINKS.c.id, literal("pending", String), literal(0),
               bindparam("now", now, type_=UTCDateTime), bindparam("now", now, type_=UTCDateTime))
        .select_from(_NOTES.join(_LINKS, _LINKS.c.student_id == _NOTES.c.student_id))
        .where(_NOTES.c.created_at >= bindparam("since", since, type_=UTCDateTime),
               ~exists().where(_DELIVERIES.c.notification_id == _NOTES.c.id))
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(_DELIVERIES)
                 .from_select(["notification_id", "guardian_link_id", "state", "attempts", "next_attempt_at",
                               "created_at"], rows)
                 .on_conflict_do_nothing(index_elements=["notification_id", "guardian_link_id"])
                 .returning(_DELIVERIES.c.id))
    added = len(session.execute(statement).all())  # (rowcount is not reliable for INSERT ... SELECT)
    session.commit()
    return added


def idempotency_key(policy: PushPolicy, notification_id: int, guardian_link_id: int) -> str:
    """The webhook-id of every push of this notification to this guardian: the same on every retry."""
    return f"msg_{policy.namespace}_{notification_id}_{guardian_link_id}"


def payload(note: Any, recipient_iin: str) -> bytes:
    """The webhook body: what the national app needs to show the push and open the right page, no more.

    The recipient is addressed by IIN (the national app's user id), in full: the gateway cannot deliver to a
    masked one. The child is named only by its opaque id (the app reads its name with the parent's own
    token); no school, no names, no other parent. The same bytes on every retry (the time is the row's)."""
    if note.voucher_id is not None:
        data: dict[str, Any] = {"recipient": recipient_iin, "childId": str(note.student_id), "kind": note.kind,
                                "voucherId": str(note.voucher_id)}
    else:
        data = {"recipient": recipient_iin, "childId": str(note.student_id), "kind": note.kind,
                "entryId": note.entry_id, "mealType": note.meal_type, "date": note.serving_day.isoformat(),
                "servedAt": _iso(note.served_at), "billable": note.billable}
    body = {"type": f"parent.{note.kind}", "timestamp": _iso(note.created_at), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def backoff_s(policy: PushPolicy, attempts: int, retry_after_s: float | None, rng: random.Random) -> float:
    """Seconds until the next attempt after `attempts` failed ones: full jitter over an exponential ceiling
    (AWS's "full jitter"), but never sooner than the gateway's Retry-After (capped at MAX_RETRY_AFTER_S)."""
    ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** max(0, attempts - 1))
    delay = rng.uniform(0, ceiling)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def retryable(result: SendResult) -> bool:
    return result.status is None or result.status in RETRYABLE_STATUSES or result.status >= 500


@dataclass(frozen=True)
class _Claimed:
    id: int
    notification_id: int
    guardian_link_id: int
    attempts: int


def _claim(session: Session, now: dt.datetime, limit: int, locking: bool) -> list[_Claimed]:
    query = (select(_DELIVERIES.c.id, _DELIVERIES.c.notification_id, _DELIVERIES.c.guardian_link_id,
                    _DELIVERIES.c.attempts)
             .where(_DELIVERIES.c.state == "pending", _DELIVERIES.c.next_attempt_at <= now)
             .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
             .limit(limit))
    if locking:
        query = query.with_for_update(skip_locked=True)
    return [_Claimed(*row) for row in session.execute(query)]


def _facts(session: Session, claimed: Sequence[_Claimed]) -> tuple[dict[int, Any], dict[int, Any]]:
    """The outbox rows (with the consent rule's verdict now) and the guardian links of these deliveries."""
    notes = {row.id: row for row in session.execute(
        select(_NOTES, withheld_now(_NOTES).label("withheld"))
        .where(_NOTES.c.id.in_({c.notification_id for c in claimed})))}
    links = {row.id: row for row in session.execute(
        select(_LINKS.c.id, _LINKS.c.parent_iin, _LINKS.c.student_id)
        .where(_LINKS.c.id.in_({c.guardian_link_id for c in claimed})))}
    return notes, links


def deliver_due(session: Session, send: Sender, policy: PushPolicy, *,
                clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                rng: random.Random | None = None) -> RoundReport:
    """Claim up to `policy.batch_size` due deliveries, send them, record the outcomes. Commits."""
    rng = rng or random.SystemRandom()
    locking = session.get_bind().dialect.name == "postgresql"
    claimed = _claim(session, clock(), policy.batch_size, locking)
    report = RoundReport()
    if not claimed:
        session.rollback()
        return report
    notes, links = _facts(session, claimed)
    if not locking:
        session.commit()  # SQLite: release the write lock while the gateway is asked (one worker only)
    for item in claimed:
        changes = _outcome(item, notes.get(item.notification_id), links.get(item.guardian_link_id), send,
                           policy, clock, rng, report)
        session.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == item.id).values(**changes))
    session.commit()
    return report


def _outcome(item: _Claimed, note: Any, link: Any, send: Sender, policy: PushPolicy,
             clock: Callable[[], dt.datetime], rng: random.Random, report: RoundReport) -> dict[str, Any]:
    """The column values that record what became of one claimed delivery (sending it if it may go)."""
    if note is None:
        report.expired += 1
        return {"state": "expired", "finished_at": clock()}
    if link is None or link.student_id != note.student_id or note.withheld:
        report.withheld += 1
        return {"state": "withheld", "finished_at": clock()}
    result = send(idempotency_key(policy, item.notification_id, item.guardian_link_id),
                  payload(note, link.parent_iin))
    attempts = item.attempts + 1
    common = {"attempts": attempts, "last_status": result.status,
              "last_error": result.error[:200] if result.error else None}
    if result.status is not None and 200 <= result.status < 300:
        report.delivered += 1
        return {**common, "state": "delivered", "finished_at": clock(), "last_error": None}
    if retryable(result) and attempts < policy.max_attempts:
        report.retrying += 1
        delay = dt.timedelta(seconds=backoff_s(policy, attempts, result.retry_after_s, rng))
        return {**common, "next_attempt_at": clock() + delay}
    report.dead += 1
    return {**common, "state": "dead", "finished_at": clock()}


def next_due(session: Session) -> dt.datetime | None:
    """When the earliest pending delivery is due (None: none pending)."""
    return session.scalar(select(func.min(_DELIVERIES.c.next_attempt_at)).where(_DELIVERIES.c.state == "pending"))


def retry_dead(session: Session, now: dt.datetime) -> int:
    """Requeue every dead delivery with a fresh attempt count, due now. Commits; returns how many."""
    result = session.execute(update(_DELIVERIES).where(_DELIVERIES.c.state == "dead")
                             .values(state="pending", attempts=0, next_attempt_at=now, finished_at=None))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PushStatus:
    """The delivery state for the CLI and for a metrics module: counts by state and the oldest pending."""

    counts: dict[str, int]
    oldest_pending_at: dt.datetime | None
    now: dt.datetime

    @property
    def backlog(self) -> int:
        return self.counts.get("pending", 0)

    @property
    def dead(self) -> int:
        return self.counts.get("dead", 0)

    @property
    def lag_s(self) -> float:
        """Seconds the oldest pending delivery has waited (0 when none waits)."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (self.now - self.oldest_pending_at).total_seconds())


def push_status(session: Session, now: dt.datetime) -> PushStatus:
    counts = dict.fromkeys(PUSH_STATES, 0)
    for state, count in session.execute(select(_DELIVERIES.c.state, func.count()).group_by(_DELIVERIES.c.state)):
        counts[state] = int(count)
    oldest = session.scalar(select(func.min(_DELIVERIES.c.created_at)).where(_DELIVERIES.c.state == "pending"))
    return PushStatus(counts, oldest, now)
