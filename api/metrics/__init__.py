"""Prometheus metrics: /metrics behind its own token, request and ingest instruments, scrape-time database gauges.

Nothing here imports prometheus_client at import time, and nothing outside this package imports it at all:
the client decides once, when it is first imported, whether it runs in multi-process mode (the environment
variable PROMETHEUS_MULTIPROC_DIR, which api/gunicorn_conf.py sets in gunicorn's master before the workers
fork). The master imports the `api` package before it reads its configuration, so an import here would fix
the single-process mode for every worker. The instruments are therefore imported by `init_app`, which runs in
the worker (the app is built after the fork), and the views reach them through the app (`current_recorder()`).

Metrics are collected only when WALLET_METRICS_TOKEN is set; without it /metrics does not exist (404) and no
hook runs, so the cost is nothing (docs/benchmarks.md measures the cost when on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

from api.metrics.extension import EXTENSION
from wallet.config import Settings

if TYPE_CHECKING:
    from api.metrics.recorder import Recorder


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.metrics_token:
        return
    from api.metrics import endpoint  # after the fork: see the module's docstring

    endpoint.init_app(app, settings)


def current_recorder() -> Recorder | None:
    """The app's recorder, or None when metrics are off (views skip their observations then)."""
    return current_app.extensions.get(EXTENSION)
