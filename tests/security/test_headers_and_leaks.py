"""Security headers on every answer (successes and errors alike), HSTS only over HTTPS and only from trusted
proxies, and no stack trace, SQL or exception text in any response."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from api import create_app
from api.security import HSTS, SECURITY_HEADERS
from tests.security.routes import ROUTES, send

CALLER = {"terminal": "terminal", "parent": "parent", "staff": "operator", "public": None, "anonymous": None,
          "metrics": "metrics"}
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "SELECT", "INSERT", "UPDATE ", "secret-",
         "/work/", "site-packages")


def assert_hardened(response, where: str) -> None:  # type: ignore[no-untyped-def]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{where}: {name} is {response.headers.get(name)!r}"
    assert "Strict-Transport-Security" not in response.headers, f"{where}: HSTS over plain HTTP"
    cache = response.headers.get("Cache-Control", "")
    assert "no-store" in cache or cache == "private, no-cache", f"{where}: Cache-Control {cache!r}"


def test_every_route_answers_with_the_security_headers(client, sec):
    for route in ROUTES:
        for who in {CALLER[route.audience], None}:
            response = send(client, route, sec, who)
            assert_hardened(response, f"{route.name} as {who}: {response.status_code}")
            if route.audience in ("parent", "staff") or response.status_code >= 400:
                assert "no-store" in response.headers["Cache-Control"], route.name


def test_the_roster_may_be_kept_by_its_terminal_only(client, sec):
    """The roster is meant to be kept by the terminal for offline days: `private, no-cache` (never a shared
    cache, always revalidated with its ETag); every other answer with personal data is `no-store`."""
    response = client.get("/api/v1/terminal/roster", headers=sec.headers("terminal"))
    assert response.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nowhere", 404), ("DELETE", "/healthz", 405),
                                                        ("GET", "/api/v1/parent/children", 401)])
def test_errors_carry_the_headers_too(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert_hardened(response, path)


def test_hsts_only_over_https(client, quiet_settings, engine, sec):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    assert client.get("/healthz", base_url="https://localhost").headers["Strict-Transport-Security"] == HSTS
    # A client cannot claim HTTPS (or an address) through forwarding headers unless a proxy is trusted.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Strict-Transport-Security" not in client.get("/healthz", headers=forwarded).headers
    behind_proxy = create_app(dataclasses.replace(quiet_settings, trusted_proxies=1), engine=engine).test_client()
    assert behind_proxy.get("/healthz", headers=forwarded).headers["Strict-Transport-Security"] == HSTS


def _fail_with(exc: Exception):  # type: ignore[no-untyped-def]
    def fail(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise exc

    return fail


FAILURES = {
    "an unexpected exception": (RuntimeError("secret-token 0123 in /work/main/wallet/x.py"), 500, "internal_error"),
    "SQL that does not run": (ProgrammingError("SELECT iin FROM students WHERE secret-1", {}, Exception("x")),
                              500, "internal_error"),
    "a constraint the service did not expect": (IntegrityError("INSERT INTO ledger_entries secret-2", {},
                                                               Exception("dup")), 500, "internal_error"),
    "the database gone": (OperationalError("SELECT 1 secret-3", {}, Exception("connection refused")),
                          503, "database_unavailable"),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_no_stack_trace_sql_or_exception_text_in_any_answer(client, sec, monkeypatch, name):
    import api.terminals

    exc, status, code = FAILURES[name]
    monkeypatch.setattr(api.terminals, "build_roster", _fail_with(exc))
    monkeypatch.setattr(api.terminals, "record_batch", _fail_with(exc))
    for path, method, body in (("/api/v1/terminal/roster", "GET", None),
                               ("/api/v1/terminal/events", "POST", ROUTES[4].body(sec))):
        response = client.open(path, method=method, json=body, headers=sec.headers("terminal"))
        text = response.get_data(as_text=True)
        assert (response.status_code, response.get_json()["code"]) == (status, code), text
        assert not [leak for leak in LEAKS if leak in text], text
        assert_hardened(response, path)
        if status == 503:
            assert response.headers["Retry-After"].isdigit()


def test_no_leaks_in_answers_to_garbage(client, sec):
    """Every route, with a body and query that are garbage: whatever the answer, nothing internal in it."""
    for route in ROUTES:
        for who in {CALLER[route.audience], None}:
            body = b'{"\\ud800": [1e999, -0, "\\u0000", {"": null}]}' if route.body else None
            url = route.url(sec) + ("&" if "?" in route.url(sec) else "?") + "school=%00%ff&month=9999-99&limit=-1"
            response = send(client, route, sec, who, body=body, url=url)
            text = response.get_data(as_text=True)
            assert response.status_code < 500, (route.name, text)
            assert not [leak for leak in LEAKS if leak in text], (route.name, text)
