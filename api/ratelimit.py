"""Rate limits: token buckets in each worker process, answered with 429 and Retry-After.

Who is counted: a terminal by its id, a parent or a staff member by the subject of their token, and, for
requests that carry no identity that authenticated (enrollment, unknown paths, failed authentication),
the client address. Each key has a bucket of N tokens refilled at N a minute (`Settings.rate_limit_*`).

How an identity is counted without checking its token twice: before the view runs, the bucket of the
identity the token *claims* (its unverified `iss` or `sub`) is looked at, and an empty bucket is a 429.
After the view, a bucket is charged only for an identity that the view's own authentication verified and
named with `verified()` (a terminal after its signature, lifetime and one-time `jti` were checked; a
parent or staff member after the identity provider's signature and the claims were checked). Every other
request (no token, a forged or replayed one, a valid token refused with 401 or 403, a console page, which
reads its session and not the bearer header) is charged to the client address, whose bucket is looked at
for every request. A forged token that names someone else is therefore never charged to them, whatever
the view answers. tests/security/test_rate_limits.py checks it for every audience.

Why in-process and not in the database: a counter in the database would be a write, and a hot row, on
every request of the busiest path (terminal uploads), on the very database the limits protect. The limits
are abuse protection, not quotas, so per-process counts are enough: with W workers on H hosts a client
may get up to W x H times the figure in the worst case, and a restart forgets the counts. See SECURITY.md.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request

from api.errors import ProblemError
from wallet.config import Settings

EXEMPT_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})
# Endpoints anyone may call without a token: counted by client address.
ANONYMOUS_ENDPOINTS = frozenset({"terminals.enroll"})
# The audience of a blueprint's tokens; any other blueprint is for staff.
AUDIENCE_OF_BLUEPRINT = {"terminals": "terminal", "parents": "parent", "parent_complaints": "parent",
                         "parent_vouchers": "parent"}
MAX_KEYS = 50_000
_STATE = "wallet_rate_limit"
_VERIFIED = "wallet_rate_limit_verified"


class TokenBuckets:
    """Buckets of `per_minute` tokens refilled continuously; the least recently used keys are forgotten
    beyond `max_keys` (a forgotten bucket is a full one, so forgetting only ever errs towards allowing)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return self.capacity
        tokens, at = entry
        return min(self.capacity, tokens + max(0.0, now - at) * self.rate)

    def wait(self, key: str) -> float:
        """Seconds until this key may make a request (0 when it may now)."""
        with self._lock:
            level = self._level(key, self.clock())
        return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def take(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._buckets[key] = (max(0.0, self._level(key, now) - 1.0), now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


@dataclass
class RateLimiter:
    terminal: TokenBuckets
    parent: TokenBuckets
    staff: TokenBuckets
    address: TokenBuckets

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        return cls(terminal=TokenBuckets(settings.rate_limit_terminal_per_min, clock=clock),
                   parent=TokenBuckets(settings.rate_limit_parent_per_min, clock=clock),
                   staff=TokenBuckets(settings.rate_limit_staff_per_min, clock=clock),
                   address=TokenBuckets(settings.rate_limit_address_per_min, clock=clock))

    def buckets(self, kind: str) -> TokenBuckets:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def set_clock(self, clock: Callable[[], float]) -> None:
        for kind in ("terminal", "parent", "staff", "address"):
            self.buckets(kind).clock = clock

    def clear(self) -> None:
        for kind in ("terminal", "parent", "staff", "address"):
            self.buckets(kind).clear()


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["wallet.rate_limiter"] = RateLimiter.from_settings(settings)
    if not settings.rate_limits_enabled:
        return
    app.before_request(_check)
    app.after_request(_charge)


def limiter() -> RateLimiter:
    return current_app.extensions["wallet.rate_limiter"]  # type: ignore[no-any-return]


def claimed_identity(endpoint: str | None) -> tuple[str, str] | None:
    """(bucket kind, key) of the identity the request's bearer token claims, unverified; None without one."""
    if endpoint is None or endpoint in ANONYMOUS_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        return None
    kind = AUDIENCE_OF_BLUEPRINT.get(endpoint.partition(".")[0], "staff")
    claims = unverified_claims(token)
    claim = claims.get("iss" if kind == "terminal" else "sub") if claims is not None else None
    if not isinstance(claim, str) or not 0 < len(claim) <= 128:
        return None
    return kind, claim


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS, not checked at all: only a bucket key to look at (see the module notes).

    Read with base64 and json directly: PyJWT's unverified decode checks every character of every segment
    in Python, a tenth of a millisecond per request, for a token the view verifies anyway."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    return claims if isinstance(claims, dict) else None


def _address() -> str:
    return request.remote_addr or "unknown"


def _refuse(wait: float, who: str) -> ProblemError:
    seconds = max(1, math.ceil(wait))
    return ProblemError(429, "rate_limited", f"Too many requests from this {who}; retry in {seconds} s.",
                        headers={"Retry-After": str(seconds)})


def _check() -> None:
    endpoint = request.endpoint
    if endpoint in EXEMPT_ENDPOINTS:
        return
    rates = limiter()
    address = _address()
    identity = claimed_identity(endpoint)
    if (wait := rates.address.wait(address)) > 0:
        raise _refuse(wait, "address")
    if identity is not None and (wait := rates.buckets(identity[0]).wait(identity[1])) > 0:
        raise _refuse(wait, identity[0])
    g.setdefault(_STATE, (identity, address))


def verified(kind: str, key: str) -> None:
    """Called by authentication once it has verified who is calling: this request is charged to them."""
    g.setdefault(_VERIFIED, (kind, key))


def _charge(response: Response) -> Response:
    state = g.pop(_STATE, None)
    identity = g.pop(_VERIFIED, None)
    if state is None:  # exempt, or refused with 429 (not charged)
        return response
    if identity is not None:
        limiter().buckets(identity[0]).take(identity[1])
    else:
        limiter().address.take(state[1])
    return response
