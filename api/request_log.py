"""The request id and the one log line of every request.

- `X-Request-Id` (api/request_id.py): returned on every response and bound to every log line written while
  the request runs.
- One JSON line when the response is ready (`after_request`): method, route template (never the path or
  the query string, which may hold an IIN or a code), status, duration in milliseconds, request id and the
  audience the route serves. A streamed response (a parent's notification stream) is logged when it
  starts, with `streamed: true` and the time to its first byte: it may stay open for an hour, and the
  operator wants to see it when it opens.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from api.audiences import audience
from api.request_id import HEADER, current_request_id, new_or_forwarded
from wallet import logs
from wallet.config import Settings

log = logs.get_logger("api.requests")


def init_app(app: Flask, settings: Settings) -> None:
    trusted = settings.trusted_proxies > 0

    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id_trusted = trusted
        g.request_id = new_or_forwarded()
        logs.bind_request(request_id=g.request_id)

    def _finish(response: Response) -> Response:
        response.headers[HEADER] = current_request_id() or ""
        started = g.get("request_started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else None
        # request_id is not passed: it comes from the bound context, as in every other line of the request.
        log.info("request", method=request.method, route=route, status=response.status_code,
                 duration_ms=round((time.perf_counter() - started) * 1000, 3), audience=audience(route),
                 streamed=response.is_streamed)
        return response

    def _forget(_exc: BaseException | None) -> None:
        logs.unbind_request()

    # First of all before_request hooks (rate limits and body checks answer before any view).
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_forget)
