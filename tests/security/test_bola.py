"""Broken object-level authorisation: every endpoint that takes an id (a path parameter, or a school, region or
supplier in the query) refuses ids of objects that belong to someone else, and changes nothing.

One table, ATTEMPTS: (route, caller, the URL and body that name someone else's object, expected status and
code). test_every_route_with_an_id_is_attacked fails when a route that takes an id has no row, so a new
endpoint gets its row here. Parents are told 404 for another family's child in exactly the words used for a
child that does not exist (no existence oracle); staff get 404 for objects outside their scope and 403 for
functions their role may not use at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from tests.request_ids import body_but_id
from tests.security.routes import ROUTES, route, send, takes_an_id
from wallet.models import (
    Checkpoint,
    ChildAccessLog,
    ChildAllergy,
    Complaint,
    ComplaintHistory,
    EligibilityList,
    LedgerEntry,
    MealFeedback,
    Terminal,
    VerificationRun,
    Voucher,
    VoucherConsent,
)

P = "/api/v1/parent/children"


@dataclass(frozen=True)
class Attempt:
    route: str
    who: str
    url: Callable[[Any], str]
    status: int
    code: str | None
    body: Callable[[Any], Any] | None = None
    # For lists filtered by scope (a 200): does the answer hide the other's objects?
    hides: Callable[[Any, Any], bool] | None = None


def _children_routes() -> list[str]:
    return [r.name for r in ROUTES if "<child_id>" in r.rule]


def _with_child(rule_name: str, child: Callable[[Any], str], entry: Callable[[Any], int] | None = None):
    template = route(rule_name).rule.replace("<child_id>", "{child}").replace("<entry_id>", "{entry}")
    return lambda s: template.format(child=child(s), entry=(entry or (lambda s: s.entry))(s))


def _voucher_url(suffix: str) -> Callable[[Any], str]:
    return lambda s: f"/api/v1/parent/vouchers/{s.voucher}{suffix}"


ATTEMPTS: list[Attempt] = [
    # A curious parent, at every endpoint about a child: another family's child at the same school, and a pupil
    # of another school, are both "no such child".
    *(Attempt(name, "other_parent", _with_child(name, lambda s: s.child), 404, "child_not_found")
      for name in _children_routes()),
    *(Attempt(name, "parent", _with_child(name, lambda s: s.child_b, lambda s: s.entry_b), 404, "child_not_found")
      for name in _children_routes()),
    # Their own child, but another child's meal: not a meal of this child.
    Attempt("GET /api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent",
            lambda s: f"{P}/{s.child}/meals/{s.other_entry}/feedback", 404, "meal_not_found"),
    Attempt("GET /api/v1/parent/children/<child_id>/meals/<entry_id>/receipt", "parent",
            lambda s: f"{P}/{s.child}/meals/{s.other_entry}/receipt", 404, "meal_not_found"),
    Attempt("GET /api/v1/parent/children/<child_id>/meals/<entry_id>/receipt", "parent",
            lambda s: f"{P}/{s.child}/meals/{s.entry_b}/receipt", 404, "meal_not_found"),
    Attempt("POST /api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent",
            lambda s: f"{P}/{s.child}/meals/{s.other_entry}/feedback", 404, "meal_not_found"),
    Attempt("POST /api/v1/parent/children/<child_id>/meals/<entry_id>/feedback", "parent",
            lambda s: f"{P}/{s.child}/meals/{s.entry_b}/feedback", 404, "meal_not_found"),
    # Staff outside their school, region or supplier: the object does not exist for them.
    Attempt("GET /api/v1/auditor/ledger/verify", "school_admin_b",
            lambda s: f"/api/v1/auditor/ledger/verify?school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/ledger/verify", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/ledger/verify?school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/ledger/verify", "supplier",
            lambda s: f"/api/v1/auditor/ledger/verify?school={s.school_b}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/ledger/checkpoints", "school_admin_b",
            lambda s: f"/api/v1/auditor/ledger/checkpoints?school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/ledger/checkpoints", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/ledger/checkpoints?school={s.school}", 404, "school_not_found"),
    # Verification runs: a school outside the region is no such school; the list without a school shows
    # only national runs and runs of the caller's own region.
    Attempt("GET /api/v1/auditor/ledger/verifications", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/ledger/verifications?school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/ledger/verifications", "auditor_elsewhere",
            lambda s: "/api/v1/auditor/ledger/verifications", 200, None,
            hides=lambda s, body: all(run["schoolBin"] not in (s.school, s.school_b) for run in body["items"])),
    Attempt("GET /api/v1/auditor/ledger/verifications", "school_admin",
            lambda s: f"/api/v1/auditor/ledger/verifications?school={s.school}", 403, "forbidden"),
    Attempt("GET /api/v1/auditor/ledger/verifications", "supplier",
            lambda s: f"/api/v1/auditor/ledger/verifications?school={s.school}", 403, "forbidden"),
    Attempt("GET /api/v1/auditor/feedback", "school_admin_b",
            lambda s: f"/api/v1/auditor/feedback?school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/feedback", "supplier",
            lambda s: f"/api/v1/auditor/feedback?school={s.school_b}", 404, "school_not_found"),
    Attempt("POST /api/v1/admin/entries/<int:entry_id>/void", "school_admin_b",
            lambda s: f"/api/v1/admin/entries/{s.entry}/void", 404, "entry_not_found",
            lambda s: {"reason": "not ours"}),
    Attempt("POST /api/v1/admin/entries/<int:entry_id>/void", "school_admin",
            lambda s: f"/api/v1/admin/entries/{s.entry_b}/void", 404, "entry_not_found",
            lambda s: {"reason": "not ours"}),
    Attempt("GET /api/v1/auditor/reconciliations", "school_admin_b",
            lambda s: f"/api/v1/auditor/reconciliations?month={s.month}&school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/reconciliations", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/reconciliations?month={s.month}&region={s.region}", 404, "region_not_found"),
    Attempt("GET /api/v1/auditor/reconciliations/export", "school_admin_b",
            lambda s: f"/api/v1/auditor/reconciliations/export?month={s.month}&school={s.school}&format=csv",
            404, "school_not_found"),
    Attempt("GET /api/v1/auditor/entries/export", "supplier",
            lambda s: f"/api/v1/auditor/entries/export?month={s.month}&school={s.school_b}&format=csv",
            404, "school_not_found"),
    Attempt("GET /api/v1/auditor/entries/<int:entry_id>/proof", "school_admin_b",
            lambda s: f"/api/v1/auditor/entries/{s.entry}/proof", 404, "entry_not_found"),
    Attempt("GET /api/v1/auditor/entries/<int:entry_id>/proof", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/entries/{s.entry}/proof", 404, "entry_not_found"),
    Attempt("GET /api/v1/auditor/schools/<school_bin>/consistency", "school_admin_b",
            lambda s: f"/api/v1/auditor/schools/{s.school}/consistency?from=2&to=2", 404, "school_not_found"),
    Attempt("POST /api/v1/auditor/claims", "supplier",
            lambda s: f"/api/v1/auditor/claims?month={s.month}&supplier={s.world.supplier.bin[:-1]}0",
            404, "supplier_not_found",
            lambda s: {"lines": [{"schoolBin": s.school, "day": s.world.today.isoformat(), "mealType": "lunch",
                                  "meals": 1, "amountTiyn": 85000}]}),
    Attempt("GET /api/v1/auditor/periods", "auditor_elsewhere",  # a list filtered by scope: empty for them
            lambda s: f"/api/v1/auditor/periods?region={s.region}", 200, None, hides=lambda s, body: not body["items"]),
    Attempt("GET /api/v1/auditor/periods", "supplier_unknown",
            lambda s: "/api/v1/auditor/periods", 200, None, hides=lambda s, body: not body["items"]),
    # Meal sheets, the payment registry and complaints: outside the school, region or authority.
    Attempt("GET /api/v1/auditor/meal-sheets", "school_admin_b",
            lambda s: f"/api/v1/auditor/meal-sheets?month={s.month}&school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/meal-sheets", "supplier",
            lambda s: f"/api/v1/auditor/meal-sheets?month={s.month}&school={s.school_b}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/meal-sheets", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/meal-sheets?month={s.month}&school={s.school}", 404, "school_not_found"),
    Attempt("GET /api/v1/auditor/meal-sheets/export", "school_admin_b",
            lambda s: f"/api/v1/auditor/meal-sheets/export?month={s.month}&school={s.school}&format=xlsx",
            404, "school_not_found"),
    Attempt("GET /api/v1/auditor/payment-registry", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/payment-registry?month={s.closed_month}&region={s.region}", 404,
            "region_not_found"),
    Attempt("GET /api/v1/auditor/payment-registry/export", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/payment-registry/export?month={s.closed_month}&region={s.region}&format=csv",
            404, "region_not_found"),
    Attempt("POST /api/v1/parent/children/<child_id>/complaints", "parent",
            lambda s: f"{P}/{s.child}/complaints", 404, "feedback_not_found",
            lambda s: {"entryId": s.other_entry, "text": "not our meal"}),
    Attempt("GET /api/v1/auditor/complaints", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/complaints?school={s.school}", 200, None,
            hides=lambda s, body: not body["items"]),
    Attempt("GET /api/v1/auditor/findings/<finding_id>", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/findings/{s.finding}", 404, "finding_not_found"),
    Attempt("POST /api/v1/auditor/findings/rulings", "auditor_elsewhere",
            lambda s: "/api/v1/auditor/findings/rulings", 422, "validation_failed",
            lambda s: {"items": [{"findingId": s.finding, "outcome": "dismissed", "reason": "not my region"}]}),
    Attempt("GET /api/v1/parent/children/<child_id>/meals/<entry_id>/dispute", "parent",
            lambda s: f"/api/v1/parent/children/{s.other_child}/meals/{s.other_entry}/dispute", 404,
            "child_not_found"),
    Attempt("GET /api/v1/auditor/complaints/<complaint_id>", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/complaints/{s.complaint}", 404, "complaint_not_found"),
    Attempt("POST /api/v1/auditor/complaints/<complaint_id>/status", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/complaints/{s.complaint}/status", 404, "complaint_not_found",
            lambda s: {"status": "in_review"}),
    # Another family's voucher is "no such voucher", at every voucher endpoint.
    *(Attempt(f"{method} /api/v1/parent/vouchers/<voucher_id>{suffix}", "other_parent",
              _voucher_url(suffix), 404,
              "voucher_not_found", (lambda s: {"consentTextVersion": "2026-1"}) if suffix == "/accept" else None)
      for method, suffix in (("GET", ""), ("POST", "/accept"), ("POST", "/decline"), ("POST", "/withdraw"))),
    # A school's eligibility lists: another school's admin and auditors of other regions see no such school;
    # auditors may read but not submit, suppliers neither.
    Attempt("POST /api/v1/auditor/schools/<school_bin>/eligibility-lists", "school_admin_b",
            lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists", 404, "school_not_found"),
    Attempt("POST /api/v1/auditor/schools/<school_bin>/eligibility-lists", "auditor",
            lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists", 403, "forbidden"),
    Attempt("GET /api/v1/auditor/schools/<school_bin>/eligibility-lists", "school_admin_b",
            lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists?month={s.month}", 404,
            "school_not_found"),
    Attempt("GET /api/v1/auditor/schools/<school_bin>/eligibility-lists", "auditor_elsewhere",
            lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists?month={s.month}", 404,
            "school_not_found"),
    Attempt("GET /api/v1/auditor/schools/<school_bin>/eligibility-lists", "supplier",
            lambda s: f"/api/v1/auditor/schools/{s.school}/eligibility-lists?month={s.month}", 403, "forbidden"),
    # Functions a role may not use at all, whatever the id.
    Attempt("GET /api/v1/auditor/payment-registry", "school_admin",
            lambda s: f"/api/v1/auditor/payment-registry?month={s.closed_month}&region={s.region}", 403,
            "forbidden"),
    Attempt("GET /api/v1/auditor/complaints", "school_admin",
            lambda s: f"/api/v1/auditor/complaints?school={s.school}", 403, "forbidden"),
    Attempt("GET /api/v1/auditor/complaints/<complaint_id>", "supplier",
            lambda s: f"/api/v1/auditor/complaints/{s.complaint}", 403, "forbidden"),
    Attempt("POST /api/v1/auditor/complaints/<complaint_id>/status", "school_admin",
            lambda s: f"/api/v1/auditor/complaints/{s.complaint}/status", 403, "forbidden",
            lambda s: {"status": "in_review"}),
    Attempt("POST /api/v1/admin/terminals/<terminal_id>/revoke", "school_admin",
            lambda s: f"/api/v1/admin/terminals/{s.terminal.terminal_id}/revoke", 403, "forbidden"),
    Attempt("GET /api/v1/admin/terminals/<terminal_id>/gaps", "school_admin_b",
            lambda s: f"/api/v1/admin/terminals/{s.terminal.terminal_id}/gaps", 403, "forbidden"),
    Attempt("POST /api/v1/auditor/periods", "school_admin", lambda s: "/api/v1/auditor/periods", 403, "forbidden",
            lambda s: {"region": s.region, "month": s.last_month}),
]


def state(session_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Everything an attempt could have changed, read back from the database."""
    with session_factory() as session:
        def count(model: Any) -> int:
            return session.scalar(select(func.count()).select_from(model))

        return {
            "ledger": count(LedgerEntry), "checkpoints": count(Checkpoint), "feedback": count(MealFeedback),
            "allergies": count(ChildAllergy), "complaints": sorted(session.execute(
                select(Complaint.id, Complaint.status)).all()), "complaint_history": count(ComplaintHistory),
            "consents": count(VoucherConsent), "lists": count(EligibilityList),
            "vouchers": sorted((str(i), st) for i, st in session.execute(select(Voucher.id, Voucher.status))),
            "terminals": sorted(session.execute(select(Terminal.id, Terminal.status)).all()),
            "verification_runs": count(VerificationRun),
        }


def access_log(session_factory) -> set[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    """(child, reader, row id) of every access-log row."""
    with session_factory() as session:
        rows = session.execute(select(ChildAccessLog.student_id, ChildAccessLog.actor_id, ChildAccessLog.id))
        return {(str(child), actor, row_id) for child, actor, row_id in rows}


def test_every_route_with_an_id_is_attacked():
    attacked = {attempt.route for attempt in ATTEMPTS}
    missing = [r.name for r in ROUTES if takes_an_id(r) and r.name not in attacked]
    assert not missing, f"add BOLA attempts for: {missing}"


def test_someone_elses_object_is_refused_and_nothing_changes(client, sec, session_factory):
    # A closed month in the region, so that lists of closed months have something to hide.
    closed = send(client, route("POST /api/v1/auditor/periods"), sec, "operator")
    assert closed.status_code == 201, closed.get_data(as_text=True)
    # A verification run of the school, so that lists of runs have something to hide.
    assert send(client, route("GET /api/v1/auditor/ledger/verify"), sec, "operator").status_code == 200
    before, log_before = state(session_factory), access_log(session_factory)
    failures = []
    for attempt in ATTEMPTS:
        r = route(attempt.route)
        body = attempt.body(sec) if attempt.body else None
        try:
            response = send(client, r, sec, attempt.who, url=attempt.url(sec), body=body, check=True)
        except AssertionError as exc:  # reported with the others
            failures.append(f"{attempt.who}: {exc}")
            continue
        answer = response.get_json(silent=True) or {}
        got = (response.status_code, answer.get("code") if response.status_code >= 400 else None)
        if got != (attempt.status, attempt.code):
            failures.append(f"{attempt.who} {r.method} {attempt.url(sec)}: expected {attempt.status} "
                            f"{attempt.code}, got {got}")
        elif attempt.hides is not None and not attempt.hides(sec, answer):
            failures.append(f"{attempt.who} {r.method} {attempt.url(sec)}: shows what is not theirs: {answer}")
    assert not failures, "\n".join(failures)
    assert state(session_factory) == before
    # A refused read is never logged against someone else's child: at most against the caller's own child
    # (a parent asking for another child's meal under their own child's id; the log is theirs to read).
    from tests.parent_factories import PARENT_IIN

    new_rows = {(child, actor) for child, actor, _ in access_log(session_factory) - log_before}
    assert new_rows <= {(sec.child, PARENT_IIN)}, new_rows


def test_another_familys_child_looks_exactly_like_no_child(client, sec):
    """The 404 for someone else's child is the 404 for a child id that exists nowhere, byte for byte."""
    for name in _children_routes():
        r = route(name)
        theirs = send(client, r, sec, "other_parent", url=_with_child(name, lambda s: s.child)(sec))
        nobody = send(client, r, sec, "other_parent", url=_with_child(name, lambda s: str(uuid.uuid4()))(sec))
        assert theirs.status_code == nobody.status_code == 404, name
        assert body_but_id(theirs) == body_but_id(nobody), name


def test_a_terminal_cannot_bill_a_meal_for_another_schools_pupil(client, sec):
    """Terminals name no school: theirs comes from their key. A pupil of school B eating at school A's terminal
    is recorded (auditors see the attempt) but never billed."""
    from tests.factories import batch, meal_event

    response = client.post("/api/v1/terminal/events", headers=sec.headers("terminal"),
                           json=batch(meal_event(sec.world.elsewhere, 20)))
    [result] = response.get_json()["results"]
    assert (result["status"], result["verdict"]) == ("recorded", "not_billable")
    assert "not_enrolled" in result["reasons"]
