"""Whom a route serves, read from its path: the contract's audiences (openapi.yaml), one rule for every user.

The rate limits look up a bearer token's claimed identity among the counts of the route's audience, and the
request log names the audience of each line. Reading it from the path prefix, not from a table of
blueprints, means a new blueprint (the parents' QR codes, vouchers and complaints each have one) cannot be
forgotten.
"""

from __future__ import annotations

PREFIXES = (("/api/v1/terminal/", "terminal"), ("/api/v1/parent/", "parent"), ("/api/v1/auditor/", "staff"),
            ("/api/v1/admin/", "staff"), ("/console", "staff"))


def audience(path: str | None) -> str:
    """terminal, parent, staff, or none (health probes, /metrics, unknown paths)."""
    if path is None:
        return "none"
    return next((who for prefix, who in PREFIXES if path.startswith(prefix)), "none")
