"""Through a real gunicorn (two gevent workers, api/gunicorn_conf.py): every line of its log is one JSON
object, gunicorn's own lines included, and every request has exactly one line with the request id its
response carried, even when many requests run at once in the workers' greenlets (the id is bound in a
context variable, which gevent keeps per greenlet)."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import requests

from wallet.identifiers import make_iin

PATHS = ["/healthz", "/readyz", "/nowhere", "/api/v1/parent/children", "/api/v1/terminal/events"]


def _get(url: str) -> requests.Response:
    iin = make_iin(dt.date(2015, 3, 9), True, 42)
    return requests.get(f"{url}?iin={iin}", headers={"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln"}, timeout=30)


def test_one_json_line_per_request_with_the_id_its_response_carried(start_server):
    server = start_server(workers=2)
    urls = [server.url + PATHS[n % len(PATHS)] for n in range(60)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(_get, urls))
    server.stop()  # the log is complete once the workers have exited

    lines = [json.loads(line) for line in server.log_path.read_text().splitlines()]  # every line is JSON
    assert any(line["logger"] == "gunicorn.error" and line["event"].startswith("Booting worker") for line in lines)
    assert not any(line["logger"] == "gunicorn.access" for line in lines)  # the app's line replaces it
    by_id: dict[str, list[dict]] = {}
    for line in lines:
        if line["logger"] == "api.requests":
            by_id.setdefault(line["request_id"], []).append(line)
    for response in responses:
        rid = response.headers["X-Request-Id"]
        [line] = by_id.pop(rid)
        assert line["status"] == response.status_code and line["method"] == "GET"
        assert set(line) >= {"route", "duration_ms", "audience", "timestamp", "level"}
        if response.status_code >= 400:
            assert response.json()["requestId"] == rid
    # The rest: the start-up's readiness probes, no line of any request answered above.
    assert all(line["route"] == "/readyz" for lines_of_id in by_id.values() for line in lines_of_id)
    text = server.log_path.read_text()
    assert "iin=" not in text and "Bearer" not in text and "eyJ" not in text
