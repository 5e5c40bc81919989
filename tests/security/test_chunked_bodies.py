"""A body sent without Content-Length (Transfer-Encoding: chunked) is held to the same limit as any other:
over it, 413 problem+json and nothing stored; it used to be cut at the limit and the cut body processed
(a 200 when the cut fell in trailing whitespace). Checked through the test client on every route that takes
a body, and through a real gunicorn, which de-chunks the body itself (api/security.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import requests

from tests.live_server import live_server, start_server  # noqa: F401
from tests.security.routes import ROUTES, route
from tests.security.test_bola import state
from tests.security.test_limits import _limits

BODY_ROUTES = [r for r in ROUTES if r.body is not None]
AUDIENCE = {"terminal": "terminal", "parent": "parent", "anonymous": None}


def _padded(document: object, size: int) -> bytes:
    """The JSON document followed by spaces to `size` bytes: still valid JSON if cut anywhere after it."""
    text = json.dumps(document).encode()
    assert len(text) < size
    return text + b" " * (size - len(text))


def _chunked(client, target, sec, who, body: bytes):  # type: ignore[no-untyped-def]
    """The request as gunicorn passes a chunked one on: Transfer-Encoding: chunked (so no Content-Length
    counts), and a stream that ends by itself (wsgi.input_terminated)."""
    return client.open(target.url(sec), method=target.method, input_stream=io.BytesIO(body),
                       content_type="application/json", headers=sec.headers(who),
                       environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})


def test_a_chunked_body_over_the_limit_is_refused_on_every_route(app, client, sec, session_factory, quiet_settings):
    before = state(session_factory)
    failures = []
    for target in BODY_ROUTES:
        limit, _ = _limits(app, target, quiet_settings)
        who = AUDIENCE.get(target.audience, "operator")
        for size in (limit + 1, limit + 70_000):
            response = _chunked(client, target, sec, who, _padded(target.body(sec), size))
            body = response.get_json(silent=True) or {}
            if (response.status_code, response.mimetype, body.get("code")) != (
                    413, "application/problem+json", "payload_too_large"):
                failures.append(f"{target.name} ({size} bytes): {response.status_code} {body}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before


def test_a_chunked_body_at_the_limit_is_read_whole(app, client, sec, quiet_settings):
    target = route("PUT /api/v1/parent/children/<child_id>/allergies")
    limit, _ = _limits(app, target, quiet_settings)
    response = _chunked(client, target, sec, "parent", _padded({"allergens": ["milk", "eggs"]}, limit))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["allergens"] == ["eggs", "milk"]


def _pieces(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_gunicorn_refuses_a_chunked_body_over_the_limit(start_server, sec, client):  # noqa: F811
    server = start_server(env={"WALLET_MAX_BODY_BYTES": "4096", "WALLET_RATE_LIMITS": "off"})
    target = route("PUT /api/v1/parent/children/<child_id>/allergies")
    url = server.url + target.url(sec)
    headers = {**sec.headers("parent"), "Content-Type": "application/json"}
    # requests sends a generator as Transfer-Encoding: chunked, without Content-Length.
    over = requests.put(url, data=_pieces(_padded({"allergens": ["milk"]}, 4097)), headers=headers, timeout=30)
    assert over.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in over.request.headers
    assert over.status_code == 413, over.text
    assert over.headers["Content-Type"].startswith("application/problem+json")
    assert over.json()["code"] == "payload_too_large"
    at_limit = requests.put(url, data=_pieces(_padded({"allergens": ["eggs"]}, 4096)), headers=headers, timeout=30)
    assert at_limit.status_code == 200, at_limit.text
    assert at_limit.json()["allergens"] == ["eggs"]
    # The refused body changed nothing: the allergies are the ones of the accepted request only.
    assert client.get(target.url(sec), headers=sec.headers("parent")).get_json()["allergens"] == ["eggs"]
