"""HTTP client of the service, as openapi.yaml describes it. Retries are the caller's choice (see sync)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.identity import request_token

TIMEOUT_S = (5, 30)  # connect, read


class ServiceError(RuntimeError):
    """The service could not be used; `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None,
                 status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable, self.retry_after_s, self.status, self.code = retryable, retry_after_s, status, code


@dataclass
class Credentials:
    key: Ed25519PrivateKey
    terminal_id: str
    audience: str


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


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
    raise ServiceError(f"service answered {response.status_code} {code or ''}: {detail or response.reason}".strip(),
                       retryable=retryable, retry_after_s=_retry_after(response), status=response.status_code,
                       code=code)


class ServiceClient:
    def __init__(self, base_url: str, credentials: Credentials | None = None,
                 session: requests.Session | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.http = session or requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
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

    def post_events(self, sent_at: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self._request("POST", "/api/v1/terminal/events", json={"sentAt": sent_at, "events": events}).json()
