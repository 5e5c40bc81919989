"""Rate limits: at most N requests in any minute per caller, answered with 429 and Retry-After.

Who is counted: a terminal by its id, a parent or a staff member by the subject of their token, and, for
requests that carry no identity that authenticated (enrollment, unknown paths, failed authentication),
the client address. Each key may make N requests in any 60 seconds (`Settings.rate_limit_*`), counted by
the `limits` package's moving window (api/limit_counts.py).

How an identity is counted without checking its token twice: before the view runs, the count of the
identity the token *claims* (its unverified `iss` or `sub`) is looked at, and a full window is a 429.
After the view, a request is counted only for an identity that the view's own authentication verified and
named with `verified()` (a terminal after its signature, lifetime and one-time `jti` were checked; a
parent or staff member after the identity provider's signature and the claims were checked). Every other
request (no token, a forged or replayed one, a valid token refused with 401 or 403, a console page, which
reads its session and not the bearer header) is counted against the client address, whose count is looked
at for every request. A forged token that names someone else is therefore never charged to them, whatever
the view answers. tests/security/test_rate_limits.py checks it for every audience.

Where the counts live: in each worker process's memory by default (with W workers on H hosts a client may
then get up to W x H times the figure, and a restart forgets the counts), or, with `WALLET_REDIS_URL`, in a
Redis shared by all of them, falling back to memory while Redis fails (api/limit_counts.py, SECURITY.md).
Never in the database: a counter there would be a write, and a hot row, on every request of the busiest
path (terminal uploads), on the very database the limits protect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, RateLimitItemPerMinute

from api.audiences import audience
from api.errors import ProblemError
from api.limit_counts import Counts
from wallet.config import Settings
from wallet.messages import NC_, T_

EXEMPT_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})
# Endpoints anyone may call without a token: counted by client address.
ANONYMOUS_ENDPOINTS = frozenset({"terminals.enroll"})
_STATE = "wallet_rate_limit"
_VERIFIED = "wallet_rate_limit_verified"
# Outside production without WALLET_SECRET_KEY, the pseudonyms of the keys counted in Redis are keyed by this
# public text: a development or test Redis holds no real person's identity (production requires the secret).
DEVELOPMENT_PSEUDONYM_SECRET = b"wallet development rate-limit pseudonyms (not a secret)"


@dataclass
class RateLimiter:
    """The limit of each kind of caller, and the counts they are checked against."""

    limits: dict[str, RateLimitItem]
    counts: Counts
    # How a key is named in the counts: itself in this process's memory, a keyed hash in Redis (see below).
    name: Callable[[str], str] = str

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        per_minute = {"terminal": settings.rate_limit_terminal_per_min, "parent": settings.rate_limit_parent_per_min,
                      "staff": settings.rate_limit_staff_per_min, "address": settings.rate_limit_address_per_min}
        return cls(limits={kind: RateLimitItemPerMinute(n) for kind, n in per_minute.items()},
                   counts=Counts.from_settings(settings),
                   name=pseudonyms(settings.secret_key) if settings.redis_url else str)

    def wait(self, kind: str, key: str) -> float:
        """Seconds until `key` of `kind` may make a request (0 when it may now), never beyond the window (in
        Redis the window's times come from every host's clock)."""
        item = self.limits[kind]
        return min(float(item.get_expiry()), self.counts.wait(item, kind, self.name(key)))

    def take(self, kind: str, key: str) -> None:
        self.counts.hit(self.limits[kind], kind, self.name(key))

    def clear(self) -> None:
        self.counts.clear()


def pseudonyms(secret_key: str) -> Callable[[str], str]:
    """Keys as Redis sees them: HMAC-SHA256 under a key derived from WALLET_SECRET_KEY (the same on every host),
    so that Redis holds no parent's IIN, staff subject, terminal id or client address, only what stands for
    them. Unverified claims may hold any string, lone surrogates included: they are hashed all the same."""
    secret = secret_key.encode("utf-8", "surrogatepass") if secret_key else DEVELOPMENT_PSEUDONYM_SECRET
    key = hmac.new(secret, b"wallet rate-limit keys v1", hashlib.sha256).digest()

    def name(value: str) -> str:
        return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
    return name


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["wallet.rate_limiter"] = RateLimiter.from_settings(settings)
    if not settings.rate_limits_enabled:
        return
    app.before_request(_check)
    app.after_request(_charge)


def limiter(app: Flask | None = None) -> RateLimiter:
    return (app or current_app).extensions["wallet.rate_limiter"]  # type: ignore[no-any-return]


def storage_state(app: Flask | None = None) -> str:
    """"shared" while this process's limits are counted in Redis, "local" while they are counted in its own
    memory (no WALLET_REDIS_URL, or Redis failing): for metrics and health. `app` defaults to the current one."""
    return limiter(app).counts.state


def claimed_identity(endpoint: str | None) -> tuple[str, str] | None:
    """(kind, key) of the identity the request's bearer token claims, unverified; None without one."""
    if endpoint is None or endpoint in ANONYMOUS_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        return None
    # The route's audience by its path (api.audiences); any route that is neither a terminal's nor a parent's
    # takes staff tokens.
    found = audience(request.url_rule.rule if request.url_rule is not None else request.path)
    kind = found if found in ("terminal", "parent") else "staff"
    claims = unverified_claims(token)
    claim = claims.get("iss" if kind == "terminal" else "sub") if claims is not None else None
    if not isinstance(claim, str) or not 0 < len(claim) <= 128:
        return None
    return kind, claim


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS, not checked at all: only a key to look up a count by (see the module notes).

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


# The kind of client a refusal counted, as the detail names it (the codes stay the counts' keys).
_WHO = {
    "address": NC_("rate-limited client", "address"), "terminal": NC_("rate-limited client", "terminal"),
    "parent": NC_("rate-limited client", "parent"), "staff": NC_("rate-limited client", "staff"),
}


def _refuse(wait: float, who: str) -> ProblemError:
    seconds = max(1, math.ceil(wait))
    return ProblemError(429, "rate_limited", T_("Too many requests (%(who)s); retry in %(seconds)s s.",
                                                who=_WHO.get(who, who), seconds=seconds),
                        headers={"Retry-After": str(seconds)})


def _check() -> None:
    endpoint = request.endpoint
    if endpoint in EXEMPT_ENDPOINTS:
        return
    rates = limiter()
    address = _address()
    identity = claimed_identity(endpoint)
    if (wait := rates.wait("address", address)) > 0:
        raise _refuse(wait, "address")
    if identity is not None and (wait := rates.wait(*identity)) > 0:
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
        limiter().take(*identity)
    else:
        limiter().take("address", state[1])
    return response
