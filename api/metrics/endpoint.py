"""/metrics behind WALLET_METRICS_TOKEN, the request hooks that time every request, and each worker's sampler.

The token: `Authorization: Bearer <WALLET_METRICS_TOKEN>`, compared in constant time. A missing or wrong
token is 401 (a problem response with `WWW-Authenticate: Bearer`); with no token configured the endpoint is
not there at all (404), like any unknown path. The token is the operator's own secret for Prometheus, never
a user's token: metrics are about the whole service, not about anyone's children, but they are not public.
"""

from __future__ import annotations

import hmac
import threading
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from api import ratelimit
from api.errors import ProblemError
from api.metrics import instruments as m
from api.metrics.database import DatabaseCollector
from api.metrics.extension import EXTENSION
from api.metrics.recorder import Recorder
from api.notification_streams import EXTENSION as HUB
from wallet.config import Settings
from wallet.messages import T_

blueprint = Blueprint("metrics", __name__)
SAMPLE_EVERY_S = 5.0


def init_app(app: Flask, settings: Settings) -> None:
    recorder = Recorder()
    app.extensions[EXTENSION] = recorder
    app.extensions[EXTENSION + ".registry"] = _registry(app)
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(blueprint)


def _registry(app: Flask) -> CollectorRegistry:
    """The workers' files (multi-process) or this process's instruments, plus the database gauges."""
    registry = CollectorRegistry()
    if m.MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
    else:
        assert m.REGISTRY is not None
        registry.register(_Forward(m.REGISTRY))
    registry.register(DatabaseCollector(app.extensions["wallet.engine"]))
    return registry


class _Forward:
    """Another registry's metrics, for a registry that also holds app-specific collectors."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self):  # type: ignore[no-untyped-def]
        return self._source.collect()


@blueprint.get("/metrics")
def metrics() -> Response:
    expected = current_app.config["WALLET_SETTINGS"].metrics_token.encode()
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise ProblemError(401, "unauthorized", T_("The metrics token is missing or wrong."),
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    _sample(current_app)  # this worker's gauges are current; the others' are at most SAMPLE_EVERY_S old
    body = generate_latest(current_app.extensions[EXTENSION + ".registry"])
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()
    _start_sampler(current_app._get_current_object())  # type: ignore[attr-defined]


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        rule = request.url_rule
        current_app.extensions[EXTENSION].request(
            request.method, rule.rule if rule is not None else None, response.status_code,
            time.perf_counter() - started)
    return response


def _start_sampler(app: Flask) -> None:
    """Once per worker, on its first request (after the fork): a daemon thread (a greenlet under gevent)."""
    if app.extensions.get(EXTENSION + ".sampler"):
        return
    with _sampler_lock:
        if app.extensions.get(EXTENSION + ".sampler"):
            return
        app.extensions[EXTENSION + ".sampler"] = True
        threading.Thread(target=_sample_forever, args=(app,), name="metrics-sampler", daemon=True).start()


_sampler_lock = threading.Lock()


def _sample_forever(app: Flask) -> None:
    while True:
        _sample(app)
        time.sleep(SAMPLE_EVERY_S)


def _sample(app: Flask) -> None:
    hub = app.extensions.get(HUB)
    pool = app.extensions["wallet.engine"].pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    app.extensions[EXTENSION].sample(
        streams=hub.open_streams if hub is not None else 0,
        checked_out=checked_out() if callable(checked_out) else 0, size=size() if callable(size) else 0,
        redis_unreachable=redis_unreachable(app))


def redis_unreachable(app: Flask) -> bool:
    """Redis is configured for the rate limits but this process counts them in its own memory (it does not
    answer); without WALLET_REDIS_URL counting in memory is the setting, not a fault."""
    return bool(app.config["WALLET_SETTINGS"].redis_url) and ratelimit.storage_state(app) == "local"
