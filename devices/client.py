"""HTTP client of the service, as openapi.yaml describes it. Retries are the caller's choice (see sync)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices import identity
from devices.identity import request_token

TIMEOUT_S = (5, 30)  # connect, read
# The service allows this much clock difference on a token's iat/exp; past it, a refused token is the clock's fault.
CLOCK_LEEWAY_S = 30


class ServiceError(RuntimeError):
    """The service could not be used; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None,
                 status: int | None = None, code: str | None = None, clock_offset_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable, self.retry_after_s, self.status, self.code = retryable, retry_after_s, status, code
        self.clock_offset_s = clock_offset_s  # service clock minus device clock, when the refusal was the clock's


@dataclass
class Credentials:
    key: Ed25519PrivateKey
    terminal_id: str
    audience: str


def _http_date(value: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds: either delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value) if value else None
    return max(0.0, (when - identity.utcnow()).total_seconds()) if when else None


def clock_offset_s(response: requests.Response) -> float | None:
    """Service clock minus device clock, from the response's Date header (one-second resolution)."""
    when = _http_date(response.headers.get("Date", ""))
    return (when - identity.utcnow()).total_seconds() if when else None


def describe_clock_offset(offset_s: float) -> str:
    side = "behind" if offset_s > 0 else "ahead of"
    return f"the device clock is {abs(offset_s):.0f} s {side} the service's clock"


def _raise_for(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    code = problem.get("code") if isinstance(problem, dict) else None
    detail = problem.get("detail") if isinstance(problem, dict) else None
    retryable = response.status_code in (408, 429) or response.status_code >= 500
    offset = clock_offset_s(response) if response.status_code == 401 else None
    if offset is not None and abs(offset) > CLOCK_LEEWAY_S:
        # A token signed with a wrong clock looks expired or not yet valid: say what is really wrong.
        raise ServiceError(
            f"the service refused this terminal's token ({code or response.status_code}): "
            f"{describe_clock_offset(offset)}; set the device clock, then try again",
            retryable=False, status=response.status_code, code="device_clock_off", clock_offset_s=offset)
    raise ServiceError(f"service answered {response.status_code} {code or ''}: {detail or response.reason}".strip(),
                       retryable=retryable, retry_after_s=_retry_after(response), status=response.status_code,
                       code=code)


# The service answers problems in the reader's language (Accept-Language, else Russian); the agent's own words
# are English, so it asks for English details to keep one language on the cook's screen and in its log.
AGENT_LANGUAGE = "en"


class ServiceClient:
    def __init__(self, base_url: str, credentials: Credentials | None = None,
                 session: requests.Session | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.http = session or requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept-Language": AGENT_LANGUAGE, **kwargs.pop("headers", {})}
        if self.credentials is not None:
            c = self.credentials
            headers["Authorization"] = f"Bearer {request_token(c.key, c.terminal_id, c.audience)}"
        try:
            response = self.http.request(method, self.base_url + path, headers=headers, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(f"service unreachable at {self.base_url}: {type(exc).__name__}", retryable=True) from exc
        _raise_for(response)
        return response

    def enroll(self, code: str, public_key: str, label: str | None) -> dict[str, Any]:
        body = {"code": code, "publicKey": public_key, **({"label": label} if label else {})}
        return self._request("POST", "/api/v1/terminal/enroll", json=body).json()

    def roster(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The roster and its ETag, or (None, etag) when unchanged."""
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        response = self._request("GET", "/api/v1/terminal/roster", headers=headers)
        new_etag = response.headers.get("ETag", "").strip('"') or None
        return (None if response.status_code == 304 else response.json()), new_etag

    def post_events(self, sent_at: str, events: list[dict[str, Any]],
                    backlog: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"sentAt": sent_at, "events": events}
        if backlog is not None:
            body["backlog"] = backlog
        return self._request("POST", "/api/v1/terminal/events", json=body).json()
