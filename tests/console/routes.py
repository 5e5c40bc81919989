"""Every route of the web console, for tests/security/test_routes.py (every served route is declared
somewhere) and for the console's own table tests. HTML pages are not in openapi.yaml: they are not API."""

from __future__ import annotations

# (method, rule, who may open it: "anyone" or "staff"/"parent")
CONSOLE_ROUTES = [
    ("GET", "/console/", "anyone"),
    ("GET", "/console/static/<path:filename>", "anyone"),
    ("GET", "/console/sign-in", "anyone"),
    ("POST", "/console/sign-in", "anyone"),
    ("GET", "/console/dev-sign-in", "anyone"),
    ("POST", "/console/dev-sign-in", "anyone"),
    ("POST", "/console/sign-out", "anyone"),
    ("POST", "/console/language", "anyone"),
    ("GET", "/console/<path:anything>", "anyone"),
    ("POST", "/console/<path:anything>", "anyone"),
    ("PUT", "/console/<path:anything>", "anyone"),
    ("PATCH", "/console/<path:anything>", "anyone"),
    ("DELETE", "/console/<path:anything>", "anyone"),
    ("GET", "/console/schools", "staff"),
    ("GET", "/console/schools/<school_bin>", "staff"),
    ("GET", "/console/schools/<school_bin>/live.json", "staff"),
    ("GET", "/console/schools/<school_bin>/days/<day>", "staff"),
    ("GET", "/console/reconciliation", "staff"),
    ("GET", "/console/reconciliation/export", "staff"),
    ("GET", "/console/entries/<entry_id>", "staff"),
    ("POST", "/console/entries/<entry_id>/verify", "staff"),
    ("GET", "/console/entries/<entry_id>/proof.json", "staff"),
    ("GET", "/console/ledger", "staff"),
    ("POST", "/console/ledger/verify", "staff"),
    ("GET", "/console/findings", "staff"),
    ("POST", "/console/findings/<finding_id>/ruling", "staff"),
    ("GET", "/console/parent", "parent"),
    ("POST", "/console/parent/feedback", "parent"),
]
CONSOLE_ROUTE_NAMES = {f"{method} {rule}" for method, rule, _ in CONSOLE_ROUTES}


def example_path(rule: str) -> str:
    return (rule.replace("<path:filename>", "console.css").replace("<path:anything>", "nothing-here")
            .replace("<school_bin>", "010140000012").replace("<day>", "2026-11-02").replace("<entry_id>", "1")
            .replace("<finding_id>", "1"))
