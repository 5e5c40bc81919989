"""One watcher of the parents' notification outbox per worker process, for all of its open streams.

An open stream (GET /api/v1/parent/notifications/stream) subscribes here with its parent's children and then
waits, costing no database query and holding no connection. The hub polls the outbox once per poll interval
for every stream of the process (one query: ids of new rows and the children they concern) and wakes only
the streams whose children got something; a woken stream reads its own rows with its own cursor, consent
check and access log (api/parent_notifications.py).

Outbox ids are not in commit order across schools (wallet/parents/notifications.py): a transaction may take
id 100 and commit after id 101 is seen. Ids skipped over are therefore watched as gaps for GAP_TTL_S, which
is far longer than an ingest transaction lasts. The hub stops its thread when no stream is left (and starts
afresh, waking every stream once, when one comes), so idle processes and tests' apps do not poll.

Plain threading: under gunicorn's gevent workers these are greenlets and gevent events (monkey-patched);
under sync workers and Flask's test client, real threads.

The caps (per parent, per process) live in the process: with W worker processes a parent may hold W times
the per-parent cap, as with the rate limits (SECURITY.md).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from api.errors import ProblemError
from wallet.messages import T_
from wallet.parents.notifications import newest_notification_id, notified_children

log = logging.getLogger(__name__)

GAP_TTL_S = 60.0
MAX_GAPS = 1000
POLL_ROWS = 5000
# How far back a (re)started hub looks for ids not committed yet.
START_LOOKBACK_IDS = 1000
PARENT_RETRY_AFTER_S = 30
PROCESS_RETRY_AFTER_S = 5


class Subscription:
    """One open stream: the children it is about, and a latch the hub sets when one of them got a row."""

    def __init__(self, parent: str, children: Iterable[uuid.UUID]) -> None:
        self.parent = parent
        self.children = frozenset(children)
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def wait(self, timeout: float) -> bool:
        """True when woken within `timeout` seconds. The latch is cleared before the caller reads, so a row
        that arrives during that read wakes it again."""
        woken = self._wake.wait(max(0.0, timeout))
        if woken:
            self._wake.clear()
        return woken


class NotificationHub:
    """The process's open streams, their caps, and the thread that polls the outbox for them."""

    def __init__(self, session_factory: Callable[[], Any], *, poll_s: float, per_parent: int,
                 per_process: int) -> None:
        self._factory = session_factory
        self.poll_s, self.per_parent, self.per_process = poll_s, per_parent, per_process
        self._lock = threading.Lock()
        self._by_child: dict[uuid.UUID, set[Subscription]] = {}
        self._per_parent: dict[str, int] = {}
        self._open: set[Subscription] = set()
        self._running = False
        self._watcher = OutboxWatcher()

    @property
    def open_streams(self) -> int:
        return len(self._open)

    def subscribe(self, parent: str, children: Iterable[uuid.UUID]) -> Subscription:
        """A new stream's subscription, or a 429 problem when the parent or the process is at its cap."""
        subscription = Subscription(parent, children)
        with self._lock:
            if self._per_parent.get(parent, 0) >= self.per_parent:
                raise ProblemError(
                    429, "too_many_streams",
                    T_("At most %(per_parent)s notification streams may be open at once; close one first.",
                       per_parent=self.per_parent),
                    headers={"Retry-After": str(PARENT_RETRY_AFTER_S)})
            if len(self._open) >= self.per_process:
                raise ProblemError(429, "too_many_streams", T_("The server holds as many streams as it can now."),
                                   headers={"Retry-After": str(PROCESS_RETRY_AFTER_S)})
            self._per_parent[parent] = self._per_parent.get(parent, 0) + 1
            self._open.add(subscription)
            for child in subscription.children:
                self._by_child.setdefault(child, set()).add(subscription)
            start = not self._running
            self._running = True
        if start:
            threading.Thread(target=self._run, name="notification-hub", daemon=True).start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a stream (idempotent: the stream's end and the response's close both call it)."""
        with self._lock:
            if subscription not in self._open:
                return
            self._open.discard(subscription)
            for child in subscription.children:
                group = self._by_child.get(child)
                if group is not None:
                    group.discard(subscription)
                    if not group:
                        del self._by_child[child]
            left = self._per_parent[subscription.parent] - 1
            if left:
                self._per_parent[subscription.parent] = left
            else:
                del self._per_parent[subscription.parent]

    # --- the polling thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        failing = False
        while True:
            try:
                more = self._poll()
                failing = False
            except Exception:  # a database outage: streams wait (keep-alives go on), the hub tries again
                if not failing:
                    log.exception("the notification hub cannot read the outbox; retrying")
                failing, more = True, False
            with self._lock:
                if not self._open:  # the next stream starts afresh: rows meanwhile are read by its first read
                    self._running, self._watcher = False, OutboxWatcher()
                    return
            if not more:
                time.sleep(self.poll_s)

    def _poll(self) -> bool:
        """One look at the outbox; wakes the streams concerned. True when there may be more rows now."""
        with self._factory() as session:
            if not self._watcher.started:
                self._watcher.start(session)
                children = None  # every stream reads once: a row committed since its first read is not missed
            else:
                children = self._watcher.poll(session)
        with self._lock:
            concerned = (self._by_child.get(c, ()) for c in children) if children is not None else [self._open]
            woken = {s for group in concerned for s in group}
        for subscription in woken:
            subscription.wake()
        return self._watcher.more


class OutboxWatcher:
    """Which children got new outbox rows since the last look: the highest id seen, and the ids below it not
    seen yet (gaps) for GAP_TTL_S, since a transaction may commit a lower id after a higher one is seen."""

    def __init__(self) -> None:
        self.high: int | None = None
        self.gaps: dict[int, float] = {}
        self.more = False

    @property
    def started(self) -> bool:
        return self.high is not None

    def start(self, session: Any) -> None:
        """Watch from the newest id, with the missing ids among the last START_LOOKBACK_IDS as gaps."""
        high = newest_notification_id(session)
        low = max(0, high - START_LOOKBACK_IDS)
        present = {i for i, _ in notified_children(session, low, limit=START_LOOKBACK_IDS)}
        now = time.monotonic()
        self.gaps = {i: now for i in range(low + 1, high + 1) if i not in present}
        self.high, self.more = high, False

    def poll(self, session: Any) -> set[uuid.UUID]:
        """The children of rows committed since the last poll (or start)."""
        assert self.high is not None, "start() first"
        rows = notified_children(session, self.high, list(self.gaps), limit=POLL_ROWS)
        now = time.monotonic()
        for row_id, _child in rows:
            self._note(row_id, now)
        self._expire_gaps(now)
        self.more = len(rows) == POLL_ROWS
        return {child for _, child in rows}

    def _note(self, row_id: int, now: float) -> None:
        assert self.high is not None
        if row_id > self.high:
            for skipped in range(max(self.high + 1, row_id - MAX_GAPS), row_id):
                self.gaps[skipped] = now
            self.high = row_id
        else:
            self.gaps.pop(row_id, None)

    def _expire_gaps(self, now: float) -> None:
        for i in [i for i, since in self.gaps.items() if now - since > GAP_TTL_S]:
            del self.gaps[i]
        if len(self.gaps) > MAX_GAPS:  # keep the newest: the oldest are the likeliest to be rolled back
            for i in sorted(self.gaps)[:len(self.gaps) - MAX_GAPS]:
                del self.gaps[i]

EXTENSION = "wallet.notification_hub"


def hub_of(app: Any, *, poll_s: float) -> NotificationHub:
    """The app's hub in this process, made on first use (after gunicorn forked the worker)."""
    hub: NotificationHub | None = app.extensions.get(EXTENSION)
    if hub is None:
        settings = app.config["WALLET_SETTINGS"]
        hub = app.extensions.setdefault(EXTENSION, NotificationHub(
            app.extensions["wallet.session_factory"], poll_s=poll_s, per_parent=settings.streams_per_parent,
            per_process=settings.streams_per_process))
    return hub
