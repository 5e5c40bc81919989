"""Oversize bodies and deep JSON are refused early: before authentication, before the body is parsed, on every
route that takes a body, and nothing is stored (api/security.py)."""

from __future__ import annotations

import io
import json

import pytest

from api.security import json_shape_problem
from tests.security.routes import ROUTES, send
from tests.security.test_bola import state

BODY_ROUTES = [r for r in ROUTES if r.body is not None]


def _limits(app, route, settings):  # type: ignore[no-untyped-def]
    """The body size and depth limits of this route (larger for terminal batches and suppliers' claims)."""
    from api.security import BATCH_ENDPOINTS

    [endpoint] = {rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.rule == route.rule and route.method in (rule.methods or ())}
    if endpoint in BATCH_ENDPOINTS:
        return settings.max_batch_body_bytes, settings.max_batch_json_depth
    return settings.max_body_bytes, settings.max_json_depth


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_an_oversize_body_is_refused_before_anything_else(app, client, sec, session_factory, quiet_settings):
    before = state(session_factory)
    for route in BODY_ROUTES:
        size, _ = _limits(app, route, quiet_settings)
        body = json.dumps({"padding": "x" * size}).encode()
        for who in (None, {"terminal": "terminal", "parent": "parent"}.get(route.audience, "operator")):
            response = send(client, route, sec, who, body=body, check=True)
            assert response.status_code == 413, (route.name, who, response.status_code)
            assert response.get_json()["code"] == "payload_too_large"
    assert state(session_factory) == before


def test_a_body_without_content_length_stops_being_read_at_the_limit(client, sec, quiet_settings):
    route = next(r for r in BODY_ROUTES if r.rule.endswith("/allergies"))
    body = json.dumps({"allergens": ["milk"], "padding": "x" * quiet_settings.max_body_bytes}).encode()
    response = client.put(route.url(sec), input_stream=io.BytesIO(body), content_type="application/json",
                          headers=sec.headers("parent"), environ_overrides={"wsgi.input_terminated": True,
                                                               "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_deep_json_is_refused_before_authentication(app, client, sec, session_factory, quiet_settings):
    before = state(session_factory)
    failures = []
    for route in BODY_ROUTES:
        _, depth = _limits(app, route, quiet_settings)
        for who in (None, "operator"):  # without a token too: refused before authentication
            response = send(client, route, sec, who, body=_nested(depth + 1), check=True)
            body = response.get_json(silent=True) or {}
            if (response.status_code, body.get("code")) != (400, "malformed_json") or "deeper" not in body["detail"]:
                failures.append(f"{route.name} ({who}): {response.status_code} {body}")
        # At the limit, the shape is accepted: what answers is authentication (the body is then not valid).
        response = send(client, route, sec, None, body=_nested(depth))
        if route.audience != "anonymous" and response.status_code != 401:
            failures.append(f"{route.name} at depth {depth}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before


def test_too_many_arrays_and_objects_in_a_small_body_are_refused(client, sec, quiet_settings):
    route = next(r for r in BODY_ROUTES if r.rule.endswith("/allergies"))
    body = b'{"allergens": [' + b",".join([b"[]"] * quiet_settings.max_json_containers) + b"]}"
    response = send(client, route, sec, "parent", body=body, check=True)
    assert (response.status_code, response.get_json()["code"]) == (400, "malformed_json")
    assert "arrays and objects" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("text", "depth", "refused"),
    [
        (b'{"a": [1, 2, {"b": "]]]]}}}}"}]}', 3, False),  # brackets in strings do not count
        (b'{"a": [1, 2, {"b": "\\"[[[["}]}', 3, False),  # nor after an escaped quote
        (b'["\\\\", [[1]]]', 2, True),  # an escaped backslash ends no string
        (b'["\\\\", [[1]]]', 3, False),
        (b"[" * 33 + b"]" * 33, 32, True),
        (b"[" * 32 + b"]" * 32, 32, False),
        (b"[[]" * 40 + b"]" * 40, 32, True),  # deep without a run of 33 openers
        (b"[" * 100_000, 32, True),  # unbalanced: deep before the end
        (b"]]]][[", 32, False),  # not JSON: left to the parser
    ],
)
def test_json_shape_scan(text, depth, refused):
    assert (json_shape_problem(text, depth, None) is not None) is refused


def test_unpaired_surrogates_are_refused_on_every_route(client, sec, session_factory):
    r"""A JSON string may escape half of a UTF-16 pair ("\ud800"), which decodes to no character: it used to
    fail deep inside (a 500 from a terminal's event, or from an error echoing such a key). Now the body is
    refused as malformed, before authentication; a whole pair ("\ud83c\udf72", a dish) is fine."""
    before = state(session_factory)
    for route in BODY_ROUTES:
        for text in (b'{"\\ud800": 1}', b'{"a": ["x\\udfffy"]}'):
            response = send(client, route, sec, None, body=text, check=True)
            assert (response.status_code, response.get_json()["code"]) == (400, "malformed_json"), route.name
    response = send(client, BODY_ROUTES[0], sec, None, body=b'{"\\ud83c\\udf72": 1, "\\\\ud800": 2}')
    assert response.get_json()["code"] != "malformed_json"
    assert state(session_factory) == before
