"""The push gateway over HTTP: one signed POST per webhook (the `Sender` of wallet.parents.push).

Signed by the Standard Webhooks scheme with its reference library (`standardwebhooks`): headers webhook-id
(the idempotency key), webhook-timestamp (unix seconds of this attempt) and webhook-signature
(`v1,` + base64 HMAC-SHA256 over `id.timestamp.body`). A fresh timestamp on every attempt, so the gateway
may refuse old ones (replays); the same id and body on every attempt, so it can drop duplicates.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from wallet.parents.push import SendResult


class WebhookSender:
    def __init__(self, url: str, secret: str, *, timeout_s: float, session: requests.Session | None = None) -> None:
        self._url = url
        self._webhook = Webhook(secret)
        self._timeout_s = timeout_s
        self._http = session or requests.Session()

    def headers(self, webhook_id: str, body: bytes, now: dt.datetime) -> dict[str, str]:
        signature = self._webhook.sign(webhook_id, now, body.decode("utf-8"))
        return {"Content-Type": "application/json", "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}

    def __call__(self, webhook_id: str, body: bytes) -> SendResult:
        headers = self.headers(webhook_id, body, dt.datetime.now(dt.UTC))
        try:
            response = self._http.post(self._url, data=body, headers=headers, timeout=self._timeout_s,
                                       allow_redirects=False)
        except requests.RequestException as exc:  # no answer: timeout, refused, dropped, TLS failure
            return SendResult(None, error=f"{type(exc).__name__}: {exc}"[:200])
        with response:
            error = None if response.ok else f"HTTP {response.status_code}: {response.text[:160]}"
            return SendResult(response.status_code, retry_after(response.headers.get("Retry-After")), error)


def retry_after(value: Any, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110); None when absent or bad."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
