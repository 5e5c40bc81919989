"""Every route of the app, with a well-formed request for it made from the security world (conftest.Sec).

Add a row when an endpoint is added (test_routes_are_all_listed names the missing ones). `audience` is who
may call it: public (health), anonymous (enrollment: no token), metrics (Prometheus, with the metrics token),
terminal, parent or staff; `body` is a JSON
body (or bytes with `content_type`) that the endpoint would accept from its audience.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.factories import batch, local_now, meal_event


def _month() -> str:
    return f"{local_now():%Y-%m}"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # the Flask rule, as app.url_map spells it
    audience: str
    url: Callable[[Any], str]
    body: Callable[[Any], Any] | None = None
    content_type: str = "application/json"

    @property
    def name(self) -> str:
        return f"{self.method} {self.rule}"


def _event(sec: Any) -> dict[str, Any]:
    return batch(meal_event(sec.world.eligible[2], 10))


def _eligibility_list(sec: Any) -> dict[str, Any]:
    """This month's list of the school (as JSON; the CSV form is tested in tests/api): every pupil entitled
    already, so the list changes nothing."""
    return {"month": sec.month, "pupils": [{"iin": p.iin, "category": "primary_grades"} for p in sec.world.eligible]}


P = "/api/v1/parent/children"
V = "/api/v1/parent/vouchers"
ROUTES = [
    Route("GET", "/healthz", "public", lambda s: "/healthz"),
    Route("GET", "/readyz", "public", lambda s: "/readyz"),
    Route("POST", "/api/v1/terminal/enroll", "anonymous", lambda s: "/api/v1/terminal/enroll",
          lambda s: {"code": "AAAA-BBBB-CCCC", "publicKey": s.terminal.public_b64}),
    Route("GET", "/api/v1/terminal/roster", "terminal", lambda s: "/api/v1/terminal/roster"),
    Route("POST", "/api/v1/terminal/events", "terminal", lambda s: "/api/v1/terminal/events", _event),
    Route("GET", "/api/v1/admin/terminals", "staff", lambda s: "/api/v1/admin/terminals"),
    Route("POST", "/api/v1/admin/terminals", "staff", lambda s: "/api/v1/admin/terminals",
          lambda s: {"schoolBin": s.school, "publicKey": s.terminal.public_b64, "terminalId": "T-new-1"}),
    Route("POST", "/api/v1/admin/terminals/<terminal_id>/revoke", "staff",
          lambda s: f"/api/v1/admin/terminals/{s.terminal_b.terminal_id}/revoke"),
    Route("GET", "/api/v1/admin/terminals/<terminal_id>/gaps", "staff",
          lambda s: f"/api/v1/admin/terminals/{s.terminal.terminal_id}/gaps"),
    Route("POST", "/api/v1/admin/entries/<int:entry_id>/void", "staff",
          lambda s: f"/api/v1/admin/entries/{s.other_entry}/void", lambda s: {"reason": "served twice by mistake"}),
    Route("GET", "/api/v1/auditor/ledger/verify", "staff",
          lambda s: f"/api/v1/auditor/ledger/verify?school={s.school}"),
    Route("GET", "/api/v1/auditor/ledger/checkpoints", "staff",
          lambda s: f"/api/v1/auditor/ledger/checkpoints?school={s.school}"),
    Route("GET", "/api/v1/auditor/ledger/verifications", "staff",
          lambda s: f"/api/v1/auditor/ledger/verifications?school={s.school}"),
    Route("GET", "/api/v1/auditor/feedback", "staff", lambda s: f"/api/v1/auditor/feedback?school={s.school}"),
    Route("GET", "/api/v1/parent/children", "parent", lambda s: P),
    Route("GET", "/api/v1/parent/children/<child_id>/meals/today", "parent", lambda s: f"{P}/{s.child}/meals/today"),
    Route("GET", "/api/v1/parent/children/<child_id>/meals", "parent", lambda s: f"{P}/{s.child}/meals"),
    Route("GET", "/api/v1/parent/children/<child_id>/menu", "parent", lambda s: f"{P}/{s.child}/menu"),
    Route("GET", "/api/v1/parent/children/<child_id>/allergies", "parent", lambda s: f"{P}/{s.child}/allergies"),
    Route("PUT", "/api/v1/parent/children/<child_id>/allergies", "parent", lambda s: f"{P}/{s.child}/allergies",
          lambda s: {"allergens": ["milk"]}),
    Route("GET", "/api/v1/parent/children/<child_id>/meals/<entry_id>/receipt", "parent",
          lambda s: f"{P}/{s.child}/meals/{s.entry}/receipt"),
    Route("GET", "/api/v1/open/checkpoint", "public", lambda s: "/api/v1/open/checkpoint"),
    Route("GET", "/api/v1/open/schools/<school_bin>/checkpoint", "public",
          lambda s: f"/api/v1/open/schools/{s.school}/checkpoint"),
    Route("GET", "/api/v1/open/schools/<school_bin>/daily-counts", "public",
          lambda s: f"/api/v1/open/schools/{s.school}/daily-counts?month={s.month}&format=csv"),
    Route("GET", "/api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent",
          lambda s: f"{P}/{s.child}/meals/{s.entry}/feedback"),
    Route("POST", "/api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent",
          lambda s: f"{P}/{s.child}/meals/{s.entry}/feedback", lambda s: {"rating": 4}),
    Route("GET", "/api/v1/parent/children/<child_id>/meals/<entry_id>/dispute", "parent",
          lambda s: f"{P}/{s.child}/meals/{s.entry}/dispute"),
    Route("POST", "/api/v1/parent/children/<child_id>/meals/<entry_id>/dispute", "parent",
          lambda s: f"{P}/{s.child}/meals/{s.entry}/dispute", lambda s: {"comment": "he was ill"}),
    Route("GET", "/api/v1/parent/children/<child_id>/access-log", "parent", lambda s: f"{P}/{s.child}/access-log"),
    Route("GET", "/api/v1/parent/children/<child_id>/complaints", "parent", lambda s: f"{P}/{s.child}/complaints"),
    Route("POST", "/api/v1/parent/children/<child_id>/complaints", "parent", lambda s: f"{P}/{s.child}/complaints",
          lambda s: {"entryId": s.entry, "text": "the soup was cold"}),
    Route("POST", "/api/v1/parent/children/<child_id>/qr", "parent", lambda s: f"{P}/{s.child}/qr",
          lambda s: {"mealType": "lunch"}),
    Route("GET", "/api/v1/parent/notifications", "parent", lambda s: "/api/v1/parent/notifications"),
    Route("GET", "/api/v1/parent/notifications/stream", "parent", lambda s: "/api/v1/parent/notifications/stream"),
    Route("GET", "/api/v1/parent/vouchers", "parent", lambda s: V),
    Route("GET", "/api/v1/parent/vouchers/<voucher_id>", "parent", lambda s: f"{V}/{s.voucher}"),
    Route("POST", "/api/v1/parent/vouchers/<voucher_id>/accept", "parent", lambda s: f"{V}/{s.offer}/accept",
          lambda s: {"consentTextVersion": "2026-1"}),
    Route("POST", "/api/v1/parent/vouchers/<voucher_id>/decline", "parent", lambda s: f"{V}/{s.offer_b}/decline"),
    Route("POST", "/api/v1/parent/vouchers/<voucher_id>/withdraw", "parent", lambda s: f"{V}/{s.voucher}/withdraw"),
    Route("GET", "/api/v1/auditor/reconciliations", "staff",
          lambda s: f"/api/v1/auditor/reconciliations?month={s.month}&school={s.school}"),
    Route("GET", "/api/v1/auditor/reconciliations/export", "staff",
          lambda s: f"/api/v1/auditor/reconciliations/export?month={s.month}&school={s.school}&format=csv"),
    Route("GET", "/api/v1/auditor/entries/export", "staff",
          lambda s: f"/api/v1/auditor/entries/export?month={s.month}&school={s.school}&format=csv"),
    Route("GET", "/api/v1/auditor/claims", "staff", lambda s: f"/api/v1/auditor/claims?month={s.month}"),
    Route("POST", "/api/v1/auditor/claims", "staff",
          lambda s: f"/api/v1/auditor/claims?month={s.month}&supplier={s.supplier}",
          lambda s: {"lines": [{"schoolBin": s.school, "day": s.world.today.isoformat(), "mealType": "lunch",
                                "meals": 2, "amountTiyn": 170000}]}),
    Route("GET", "/api/v1/auditor/periods", "staff", lambda s: "/api/v1/auditor/periods"),
    Route("POST", "/api/v1/auditor/periods", "staff", lambda s: "/api/v1/auditor/periods",
          lambda s: {"region": s.region, "month": s.last_month}),
    Route("GET", "/api/v1/auditor/entries/<int:entry_id>/proof", "staff",
          lambda s: f"/api/v1/auditor/entries/{s.entry}/proof"),
    Route("GET", "/api/v1/auditor/schools/<school_bin>/consistency", "staff",
          lambda s: f"/api/v1/auditor/schools/{s.school}/consistency?from=2&to=2"),
    Route("GET", "/api/v1/auditor/meal-sheets", "staff",
          lambda s: f"/api/v1/auditor/meal-sheets?month={s.month}&school={s.school}"),
    Route("GET", "/api/v1/auditor/meal-sheets/export", "staff",
          lambda s: f"/api/v1/auditor/meal-sheets/export?month={s.month}&school={s.school}&format=csv"),
    Route("GET", "/api/v1/auditor/payment-registry", "staff",
          lambda s: f"/api/v1/auditor/payment-registry?month={s.closed_month}&region={s.region}"),
    Route("GET", "/api/v1/auditor/payment-registry/export", "staff",
          lambda s: f"/api/v1/auditor/payment-registry/export?month={s.closed_month}&region={s.region}&format=csv"),
    Route("GET", "/api/v1/auditor/findings", "staff", lambda s: f"/api/v1/auditor/findings?month={_month()}"),
    Route("GET", "/api/v1/auditor/findings/<finding_id>", "staff", lambda s: f"/api/v1/auditor/findings/{s.finding}"),
    Route("POST", "/api/v1/auditor/findings/rulings", "staff", lambda s: "/api/v1/auditor/findings/rulings",
          lambda s: {"items": [{"findingId": s.finding, "outcome": "dismissed", "reason": "the journal shows him"}]}),
    Route("POST", "/api/v1/auditor/findings/scan", "staff", lambda s: "/api/v1/auditor/findings/scan",
          lambda s: {"month": _month()}),
    Route("GET", "/api/v1/auditor/complaints", "staff", lambda s: f"/api/v1/auditor/complaints?school={s.school}"),
    Route("GET", "/api/v1/auditor/complaints/<complaint_id>", "staff",
          lambda s: f"/api/v1/auditor/complaints/{s.complaint}"),
    Route("POST", "/api/v1/auditor/complaints/<complaint_id>/status", "staff",
          lambda s: f"/api/v1/auditor/complaints/{s.complaint}/status", lambda s: {"status": "in_review"}),
    Route("POST", "/api/v1/auditor/schools/<school_bin>/eligibility-lists", "staff",
          lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists", _eligibility_list),
    Route("GET", "/api/v1/auditor/schools/<school_bin>/eligibility-lists", "staff",
          lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists?month={s.month}"),
    Route("GET", "/metrics", "metrics", lambda s: "/metrics"),
]
BY_NAME = {route.name: route for route in ROUTES}


def served_routes(app: Any) -> set[str]:
    names = set()
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            names.add(f"{method} {rule.rule}")
    return names


def route(name: str) -> Route:
    return BY_NAME[name]


def takes_an_id(route: Route) -> bool:
    """A path parameter, or a query parameter that names an object (school, region, supplier); public
    routes (open data) serve every school's figures to anyone, so they name no one's object."""
    if route.audience == "public":
        return False
    return "<" in route.rule or bool(re.search(r"[?&](school|region|supplier)=", route.url(_Probe())))


class _Probe:
    """Enough of Sec to render URLs for takes_an_id."""

    def __getattr__(self, name: str) -> Any:
        return _Probe()

    def __str__(self) -> str:
        return "x"

    def __format__(self, spec: str) -> str:
        return "x"


def send(client: Any, route: Route, sec: Any, who: str | None, *, url: str | None = None, body: Any = None,
         headers: dict[str, str] | None = None, check: bool = False) -> Any:
    """Send the route's request as `who` (None: without a token); `check`: the answer must conform to
    openapi.yaml (AssertionError otherwise)."""
    payload = body if body is not None else (route.body(sec) if route.body else None)
    kwargs: dict[str, Any] = {"method": route.method, "headers": {**sec.headers(who), **(headers or {})}}
    if isinstance(payload, bytes | str):
        kwargs.update(data=payload, content_type=route.content_type)
    elif payload is not None:
        kwargs["json"] = payload
    target = url or route.url(sec)
    response = client.open(target, **kwargs)
    response.get_data()  # a streamed answer (an export, the event stream) runs to its end here
    response.close()
    if check:
        from werkzeug.test import EnvironBuilder

        from tests.api.contract import assert_conforms

        try:
            assert_conforms(response, EnvironBuilder(target, **kwargs).get_request())
        except Exception as exc:
            raise AssertionError(f"{route.method} {target} -> {response.status_code}, outside openapi.yaml: "
                                 f"{exc}") from exc
    return response
