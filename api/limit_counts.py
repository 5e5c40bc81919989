"""Where the rate limiter's counts live: a Redis shared by every worker, or this process's memory.

The counting itself is the `limits` package's moving window (at most N requests in any 60 seconds; see
docs/decisions.md). Without a Redis URL the counts are in this process's memory, as they always were. With
one, they are in Redis under `<prefix>:LIMITER/...`, so every worker on every host spends the same budget.

A limiter must never take the API down with it. When Redis does not answer (refused, down, a timeout of
`redis_timeout_ms`), the counts fall back to this process's memory: one warning is logged when that
happens, not one per request, and Redis is tried again by at most one request every `RETRY_SHARED_S`
seconds (the others do not wait for it); when it answers, the counts are shared again and that is logged
too. `state` says which is in use ("shared" or "local"), for health and metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from wallet.config import Settings, redis_location

log = logging.getLogger(__name__)

SHARED = "shared"
LOCAL = "local"
# How often, at most, a process counting locally asks Redis again.
RETRY_SHARED_S = 5.0
# Local counts beyond this many keys are swept of the expired ones, or forgotten if they are all live (a
# forgotten count errs towards allowing): a client that varies its address cannot grow a worker's memory.
MAX_LOCAL_KEYS = 50_000

T = TypeVar("T")


class MemoryCounts(MemoryStorage):
    """limits' memory storage, sweeping expired entries every SWEEP_S seconds instead of every 10 ms.

    Its sweep walks every key; at 10 ms that is a core's worth of a worker for some ten thousand callers in the
    last minute, five times the cost of the counting itself (tests/bench/bench_rate_limits.py). The counts do
    not depend on the sweep (each look at a window skips what is older than it), only memory does. The
    sweep's thread is a daemon, so a worker's exit never waits for it."""

    SWEEP_S = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's hook, name-mangled (a test checks it)
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_S, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


def redis_storage(settings: Settings) -> RedisStorage:
    """The Redis storage of `settings`; no connection is made until the first count. Timeouts are short and
    there is no retry inside the client: a Redis that hangs costs one request milliseconds, not seconds."""
    timeout = settings.redis_timeout_ms / 1000
    return RedisStorage(settings.redis_url, key_prefix=settings.redis_prefix, wrap_exceptions=True,
                        socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


class Counts:
    """Moving-window counts in `shared` storage (None: local only), falling back to this process's memory
    while the shared storage fails. Safe to use from several threads."""

    def __init__(self, shared: Storage | None = None, *, where: str = "", clock: Callable[[], float] = time.monotonic,
                 retry_s: float = RETRY_SHARED_S, max_local_keys: int = MAX_LOCAL_KEYS) -> None:
        self.local_storage = MemoryCounts()
        self._local = MovingWindowRateLimiter(self.local_storage)
        self._shared = MovingWindowRateLimiter(shared) if shared is not None else None
        self._where = where
        self._clock = clock
        self._retry_s = retry_s
        self._max_local_keys = max_local_keys
        self._failing = False
        self._next_try = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Counts:
        if not settings.redis_url:
            return cls()
        return cls(redis_storage(settings), where=redis_location(settings.redis_url))

    @property
    def state(self) -> str:
        """"shared" while the counts are in Redis, "local" without Redis or while it fails."""
        return SHARED if self._shared is not None and not self._failing else LOCAL

    def wait(self, item: RateLimitItem, *key: str) -> float:
        """Seconds until `key` may make one more request within `item`: 0 when it may now, else until the
        oldest request in its window leaves it (never 0, even on the very edge of the window)."""
        def seconds(limiter: MovingWindowRateLimiter) -> float:
            stats = limiter.get_window_stats(item, *key)
            return 0.0 if stats.remaining > 0 else max(1e-3, stats.reset_time - time.time())
        return self._run(seconds)

    def hit(self, item: RateLimitItem, *key: str) -> None:
        """Count one request of `key` (a full window stays full: nothing more is stored)."""
        self._run(lambda limiter: limiter.hit(item, *key))
        if len(self.local_storage.events) > self._max_local_keys:
            self._bound_local()

    def clear(self) -> None:
        """Forget every local count (the shared ones are Redis's, under their prefix)."""
        self.local_storage.reset()

    def _run(self, count: Callable[[MovingWindowRateLimiter], T]) -> T:
        shared = self._shared_to_try()
        if shared is not None:
            try:
                result = count(shared)
            except StorageError as exc:
                self._failed(exc)
            else:
                self._answered()
                return result
        return count(self._local)

    def _shared_to_try(self) -> MovingWindowRateLimiter | None:
        if self._shared is None or not self._failing:
            return self._shared
        with self._lock:  # while failing, one request per interval asks Redis; the others count locally
            now = self._clock()
            if now < self._next_try:
                return None
            self._next_try = now + self._retry_s
            return self._shared

    def _failed(self, exc: StorageError) -> None:
        with self._lock:
            self._next_try = self._clock() + self._retry_s
            if self._failing:
                return
            self._failing = True
        log.warning("rate limits: Redis at %s did not answer (%s: %s); counting in this process until it does, "
                    "retrying every %g s", self._where, type(exc.storage_error).__name__, exc.storage_error,
                    self._retry_s)

    def _answered(self) -> None:
        if not self._failing:
            return
        with self._lock:
            if not self._failing:
                return
            self._failing = False
        log.warning("rate limits: Redis at %s answers again; counts are shared again", self._where)

    def _bound_local(self) -> None:
        events = self.local_storage.events
        for key in [key for key, entries in list(events.items()) if not entries]:
            events.pop(key, None)
        if len(events) > self._max_local_keys:
            self.local_storage.reset()
