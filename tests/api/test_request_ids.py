"""X-Request-Id on every response, in every problem document, and in the one log line of every request
(api/request_id.py, api/request_log.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import uuid

import pytest

from api import create_app
from tests.parent_factories import parent_fixture  # noqa: F401
from wallet import logs
from wallet.identifiers import make_iin

# Responses of several kinds: a probe, an unknown route, a refused token, a wrong method, a bad body.
REQUESTS = [("GET", "/healthz", None), ("GET", "/nowhere", None), ("GET", "/api/v1/parent/children", None),
            ("DELETE", "/healthz", None), ("POST", "/api/v1/terminal/enroll", b"{not json")]


def _request_lines(recorder) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r.msg for r in recorder.records if r.name == "api.requests"]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_every_response_carries_a_new_request_id_and_one_log_line(client, logs_hold_no_secrets, method, path, body):
    response = client.open(path, method=method, data=body, content_type="application/json",
                           headers={"X-Request-Id": "client-chosen-id"})
    rid = response.headers["X-Request-Id"]
    assert str(uuid.UUID(rid)) == rid  # made here: no proxy is trusted, the client's id is not taken
    if response.status_code >= 400:
        assert response.get_json()["requestId"] == rid
    [line] = _request_lines(logs_hold_no_secrets)
    assert line["request_id"] == rid
    assert line["method"] == method and line["status"] == response.status_code
    assert line["duration_ms"] >= 0 and line["audience"] in {"terminal", "parent", "staff", "none"}


def test_the_line_names_the_route_template_never_the_path_or_the_query(client, logs_hold_no_secrets, world):
    iin = make_iin(dt.date(2015, 3, 9), True, 42)
    response = client.get(f"/api/v1/parent/children/{uuid.uuid4()}/meals?iin={iin}",
                          headers={"Authorization": "Bearer not.a.token"})
    [line] = _request_lines(logs_hold_no_secrets)
    assert line["route"] == "/api/v1/parent/children/<child_id>/meals"
    assert iin not in str(line) and "Bearer" not in str(line)
    assert line["audience"] == "parent" and line["status"] == response.status_code


@pytest.fixture
def proxied_client(settings, engine):  # type: ignore[no-untyped-def]
    return create_app(dataclasses.replace(settings, trusted_proxies=1), engine=engine).test_client()


@pytest.mark.parametrize("given", ["req-7f3a.b_c:1", "a" * 64, str(uuid.uuid4())])
def test_a_trusted_proxys_safe_id_is_kept(proxied_client, given):
    response = proxied_client.get("/nowhere", headers={"X-Request-Id": given})
    assert response.headers["X-Request-Id"] == given
    assert response.get_json()["requestId"] == given


@pytest.mark.parametrize("given", ["a" * 65, "id with spaces", "<script>", "id\u00e9", "9501-0130-0123",
                                   make_iin(dt.date(2010, 1, 1), False, 5), ""])
def test_a_trusted_proxys_unsafe_id_is_replaced(proxied_client, given):
    response = proxied_client.get("/healthz", headers={"X-Request-Id": given})
    rid = response.headers["X-Request-Id"]
    assert rid != given and str(uuid.UUID(rid)) == rid


def test_lines_logged_during_a_request_carry_its_id(app, client):
    """A standard-library logger's line, written (formatted) while the request runs, names the request."""
    @app.get("/test-only/logs-something")
    def _logs_something():  # type: ignore[no-untyped-def]
        logging.getLogger("api.somewhere").warning("something happened")
        return {"ok": True}

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    logging.getLogger("api.somewhere").addHandler(handler)
    try:
        rid = client.get("/test-only/logs-something").headers["X-Request-Id"]
    finally:
        logging.getLogger("api.somewhere").removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["request_id"] == rid and line["event"] == "something happened"
    assert "request_id" not in json.loads(_format_outside_a_request())


def _format_outside_a_request() -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    logger = logging.getLogger("api.elsewhere")
    logger.addHandler(handler)
    try:
        logger.warning("between requests")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_every_route_has_the_audience_of_its_contract_prefix(app):
    from api.request_log import audience

    expected = {"/api/v1/terminal/": "terminal", "/api/v1/parent/": "parent", "/api/v1/auditor/": "staff",
                "/api/v1/admin/": "staff", "/console": "staff"}
    for rule in app.url_map.iter_rules():
        who = next((w for prefix, w in expected.items() if rule.rule.startswith(prefix)), "none")
        assert audience(rule.rule) == who, rule.rule
    assert audience("/api/v1/parent/children/<child_id>/qr") == "parent"
    assert audience("/healthz") == audience(None) == "none"


def test_a_stream_is_logged_once_when_it_starts(app, client, parent, logs_hold_no_secrets):
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.3, WALLET_PARENT_STREAM_POLL_S=0.1)
    response = client.get("/api/v1/parent/notifications/stream", headers=parent.headers(), buffered=False)
    assert response.status_code == 200
    [line] = _request_lines(logs_hold_no_secrets)  # before any of the body is read
    assert line["streamed"] is True and line["route"] == "/api/v1/parent/notifications/stream"
    assert line["request_id"] == response.headers["X-Request-Id"] and line["audience"] == "parent"
    response.get_data()  # the stream runs to its end
    response.close()
    assert len(_request_lines(logs_hold_no_secrets)) == 1
