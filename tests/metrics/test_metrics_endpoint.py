"""/metrics in one process (Flask's client): its token, route templates as labels, ingest counts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from tests.factories import batch, meal_event
from tests.metrics.scrape import alert_metric_names, samples, total

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, metrics_token=TOKEN)


def scrape(client) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.get_data(as_text=True))


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x",
                                    f"Bearer {TOKEN[:-1]}", "bearer  "])
def test_metrics_refuse_a_missing_or_wrong_token(client, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "wallet_" not in response.get_data(as_text=True)


def test_without_a_configured_token_there_is_no_metrics_endpoint(settings, engine):
    from api import create_app

    client = create_app(dataclasses.replace(settings, metrics_token=""), engine=engine).test_client()
    for header in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        assert client.get("/metrics", headers=header).status_code == 404


def test_requests_are_labelled_by_route_template_never_by_raw_path(client, world):
    student = world.eligible[0].id
    client.get(f"/api/v1/parent/children/{student}/complaints")  # 401, but a known route
    client.get(f"/no/such/path/{student}")
    found = scrape(client)
    routes = {labels["route"] for labels, _ in found["wallet_http_requests_total"]}
    assert not any(str(student) in r for r in routes), routes
    assert "unmatched" in routes
    assert any("<" in r for r in routes), routes  # a template such as /.../<bin>/...


def test_ingest_events_are_counted_by_status_and_verdict(client, world, terminal_key):
    before = scrape(client)
    events = [meal_event(world.eligible[0], 1), meal_event(world.eligible[0], 2), meal_event(world.not_eligible, 3),
              {**meal_event(world.eligible[1], 4), "mealType": "dinner"}]
    for body in (batch(*events), batch(events[0])):
        assert client.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers()).status_code == 200
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("wallet_ingest_events_total") == 5
    assert delta("wallet_ingest_events_total", status="recorded", verdict="billable") == 1
    assert delta("wallet_ingest_events_total", status="recorded", verdict="not_billable") == 2
    assert delta("wallet_ingest_events_total", status="invalid", verdict="none") == 1
    assert delta("wallet_ingest_events_total", status="replayed", verdict="billable") == 1
    assert delta("wallet_ingest_reasons_total", reason="duplicate_meal") == 1
    assert delta("wallet_ingest_reasons_total", reason="not_eligible") == 1
    assert delta("wallet_ingest_reasons_total", reason="validation_failed") == 1
    assert delta("wallet_ingest_batch_events_count") == 2 and delta("wallet_ingest_batch_events_sum") == 5
    assert delta("wallet_ingest_append_seconds_count") == 2
    assert total(after, "wallet_terminals_active") == 1
    assert total(after, "wallet_metrics_database_up") == 1


def test_every_metric_the_alert_rules_name_is_served(client, world, terminal_key):
    client.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                headers=terminal_key.headers())
    found = scrape(client)
    assert alert_metric_names() - set(found) == set()


def test_importing_the_api_package_does_not_import_the_metrics_client():
    # gunicorn's master imports `api` before its config sets PROMETHEUS_MULTIPROC_DIR; prometheus_client
    # fixes its mode on first import, so an early import would leave every worker in single-process mode.
    code = "import sys, api, api.gunicorn_conf, api.wsgi; assert 'prometheus_client' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("token", ["x", "short-token", "a" * 31, "  " + "b" * 20 + "  "])
def test_a_short_metrics_token_is_refused_at_start(token):
    from wallet.config import ConfigError, settings_from_env

    with pytest.raises(ConfigError, match="WALLET_METRICS_TOKEN"):
        settings_from_env({"WALLET_ENV": "test", "WALLET_METRICS_TOKEN": token})
    assert settings_from_env({"WALLET_ENV": "test", "WALLET_METRICS_TOKEN": "  "}).metrics_token == ""


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyError("x"), ZeroDivisionError()])
def test_a_server_error_in_ingest_is_counted_under_its_route(client, world, terminal_key, monkeypatch, failure):
    import api.terminals

    def fail(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise failure

    before = scrape(client)
    monkeypatch.setattr(api.terminals, "record_batch", fail)
    response = client.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                           headers=terminal_key.headers())
    assert response.status_code == 500
    after = scrape(client)
    labels = {"route": "/api/v1/terminal/events", "status": "500"}
    assert total(after, "wallet_http_requests_total", **labels) - total(before, "wallet_http_requests_total",
                                                                         **labels) == 1
    assert total(after, "wallet_ingest_events_total") == total(before, "wallet_ingest_events_total")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the probe is closed


@pytest.mark.parametrize(("redis", "expected"), [("unreachable", True), ("none", False)])
def test_a_worker_whose_redis_does_not_answer_is_counted(settings, engine, redis, expected):
    """With WALLET_REDIS_URL set and Redis silent, the worker counts its limits alone and says so; with no
    Redis configured, counting in memory is the setting, not a fault. (The gauge is process-wide, and other
    tests' apps sample it too, so the decision is checked here and the gauge's presence in the scrape.)"""
    from api import create_app
    from api.metrics.endpoint import redis_unreachable

    url = f"redis://127.0.0.1:{_closed_port()}/0" if redis == "unreachable" else ""
    app = create_app(dataclasses.replace(settings, rate_limits_enabled=True, redis_url=url,
                                         redis_timeout_ms=50), engine=engine)
    client = app.test_client()
    assert redis_unreachable(app) is False  # nothing tried yet
    assert client.get("/api/v1/parent/children").status_code == 401  # counted (by address): Redis is tried
    assert redis_unreachable(app) is expected
    assert "wallet_rate_limit_redis_unreachable" in scrape(client)
