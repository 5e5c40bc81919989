"""Tables over every console route: sign-in is required where it must be (and the role), CSRF on every POST,
HTML error pages instead of problem documents or stack traces, and the console's own security headers."""

from __future__ import annotations

import pytest

from api.console.blueprint import REQUIRED
from tests.console.routes import CONSOLE_ROUTE_NAMES, CONSOLE_ROUTES, example_path
from tests.security.routes import served_routes

PROTECTED = [(m, r, who) for m, r, who in CONSOLE_ROUTES if who != "anyone"]


def test_every_console_route_is_listed(app):
    served = {name for name in served_routes(app) if name.split(" ", 1)[1].startswith("/console")}
    assert served == CONSOLE_ROUTE_NAMES


def test_every_protected_endpoint_is_marked(app):
    """A view without @requires would be open to anyone: compare the marks with the table."""
    by_rule = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    for method, rule, who in CONSOLE_ROUTES:
        endpoint = by_rule[rule]
        if who == "anyone":
            assert endpoint not in REQUIRED, rule
        else:
            expected = ("parent",) if who == "parent" else ("operator", "auditor", "school_admin", "supplier")
            assert REQUIRED.get(endpoint) == expected, (method, rule)


@pytest.mark.parametrize(("method", "rule", "who"), PROTECTED)
def test_anonymous_callers_are_sent_to_sign_in(console, method, rule, who):
    path = example_path(rule)
    response = console.client.open(path, method=method, data={"csrf_token": console.csrf()})
    assert response.status_code == 303, path
    assert response.headers["Location"].startswith("/console/sign-in")


@pytest.mark.parametrize(("method", "rule", "who"), [r for r in PROTECTED if r[0] == "POST"])
def test_every_signed_in_post_needs_the_csrf_token(console, method, rule, who):
    console.sign_in("operator" if who == "staff" else "parent")
    response = console.client.post(example_path(rule), data={"school": "010140000012"})
    assert response.status_code == 400 and "text/html" in response.content_type


@pytest.mark.parametrize(("method", "rule", "who"), CONSOLE_ROUTES)
def test_pages_answer_html_with_the_console_headers(console, method, rule, who):
    if who != "anyone":
        console.sign_in("operator" if who == "staff" else "parent")
    path = example_path(rule)
    data = {"csrf_token": console.csrf()} if method == "POST" else None
    response = console.client.open(path, method=method, data=data)
    assert response.status_code < 500, path
    assert "application/problem+json" not in response.content_type
    if response.status_code == 200 and method == "GET":
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_keeps_its_own_headers_and_problems(console):
    response = console.client.get("/api/v1/parent/children")
    assert response.status_code == 401 and response.content_type == "application/problem+json"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'; frame-ancestors")
    assert "Set-Cookie" not in response.headers


def test_assets_are_served_by_the_app(console):
    for name, kind in (("console.css", "text/css"), ("live.js", "javascript")):
        response = console.get(f"/console/static/{name}")
        assert response.status_code == 200 and kind in response.content_type
    page = console.get("/console/sign-in").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page  # no CDN, nothing from elsewhere


def test_limits_answer_html_pages_too(console, app):
    console.sign_in("parent")
    big = console.client.post("/console/parent/feedback", data={"csrf_token": "x", "comment": "x" * 70_000})
    assert big.status_code == 413 and "text/html" in big.content_type


def test_assets_do_not_start_sessions(console):
    assert "Set-Cookie" not in console.get("/console/static/console.css").headers


def test_wrong_methods_and_paths_get_the_console_page(console):
    console.sign_in("operator")
    for method, path in (("POST", "/console/ledger"), ("DELETE", "/console/schools"), ("GET", "/console/sign-out"),
                         ("PUT", "/console/nothing")):
        response = console.client.open(path, method=method)
        assert response.status_code == 404 and "text/html" in response.content_type, (method, path)
