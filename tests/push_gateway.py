"""A local stand-in for the national app's push gateway: an HTTP server in a thread on a free loopback port.

It verifies each webhook's Standard Webhooks signature (the reference library, as a real receiver would),
keeps the first body of each webhook-id and drops repeats (answering 2xx, as an idempotent receiver does),
and misbehaves on request, chosen per request by `faults` (a function of the request's number and id):

- "ok": accept, answer 204;
- "fail": answer 503 without accepting;
- "throttle": answer 429 with Retry-After (`retry_after`) without accepting;
- "slow": accept, then answer only after `slow_s` (past the client's timeout: the client sees no answer);
- "drop": accept, then close the connection without answering (the client retries one it delivered);
- "refuse": answer 400 without accepting (a refusal that retrying cannot mend);
- "hold": accept, set `held`, and answer only after `release` is set (to kill the client mid-delivery);
- "hold_early": like "hold", but before accepting (the push never arrived).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Faults = Callable[[int, str], str]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def write_secret(directory: Path, secret: str | None = None) -> tuple[Path, str]:
    secret = secret or new_secret()
    path = directory / "push-secret"
    path.write_text(secret + "\n", encoding="utf-8")
    return path, secret


class StandInGateway:
    def __init__(self, secret: str, faults: Faults | None = None, *, slow_s: float = 1.0,
                 retry_after: str = "1") -> None:
        self.webhook = Webhook(secret)
        self.faults: Faults = faults or (lambda _n, _id: "ok")
        self.slow_s = slow_s
        self.retry_after = retry_after
        self.accepted: dict[str, Any] = {}  # webhook-id -> the first body accepted, parsed
        self.arrivals: Counter[str] = Counter()  # webhook-id -> requests with a good signature
        self.bad_signatures = 0
        self.changed_bodies: list[str] = []  # ids whose repeat carried another body than the first
        self.requests = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/push"

    @property
    def duplicates(self) -> int:
        return sum(self.arrivals.values()) - len(self.arrivals)

    def start(self) -> StandInGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _accept(self, webhook_id: str, body: bytes) -> None:
        with self._lock:
            if webhook_id in self.accepted:
                if json.loads(body) != self.accepted[webhook_id]:
                    self.changed_bodies.append(webhook_id)
                return
            self.accepted[webhook_id] = json.loads(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # quiet
                return

            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the client gave up (timeout) and closed
                    pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    gateway.webhook.verify(body, dict(self.headers.items()))
                except (WebhookVerificationError, ValueError):
                    with gateway._lock:
                        gateway.bad_signatures += 1
                    self._answer(401)
                    return
                webhook_id = self.headers["webhook-id"]
                with gateway._lock:
                    gateway.requests += 1
                    number = gateway.requests
                    gateway.arrivals[webhook_id] += 1
                mode = gateway.faults(number, webhook_id)
                if mode == "fail":
                    self._answer(503)
                elif mode == "throttle":
                    self._answer(429, {"Retry-After": gateway.retry_after})
                elif mode == "refuse":
                    self._answer(400)
                elif mode == "hold_early":
                    gateway.held.set()
                    gateway.release.wait(60)
                    self._answer(503)
                else:
                    gateway._accept(webhook_id, body)
                    if mode == "drop":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                    elif mode == "slow":
                        threading.Event().wait(gateway.slow_s)  # the fault itself: answering too late
                        self._answer(204)
                    elif mode == "hold":
                        gateway.held.set()
                        gateway.release.wait(60)
                        self._answer(204)
                    else:
                        self._answer(204)

        return Handler


@contextmanager
def running_gateway(secret: str, faults: Faults | None = None, **options: Any) -> Iterator[StandInGateway]:
    gateway = StandInGateway(secret, faults, **options).start()
    try:
        yield gateway
    finally:
        gateway.stop()
