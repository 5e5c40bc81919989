"""Findings for the authority and the schools, and parents' disputes of a meal (issue 16).

Staff: auditors (their region) and operators list, read and rule on findings and run the month's scan;
school administrators read their own school's findings; suppliers get 403. Parents dispute one of their
child's meals (once per meal), which is a finding that holds its payment. Views parse, call one service
(which commits) and answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate

from api import session_scope
from api.auth.idp import authenticate_parent, authenticate_staff
from api.errors import ProblemError
from api.i18n import language
from api.parents import own_child, private_answer
from api.schemas.common import Bin, StrictInteger, Text, json_body, load, query
from api.schemas.parents import iso
from wallet.db import read_only
from wallet.errors import FieldError, InvalidInput, NotFound
from wallet.evidence.codes import RULES
from wallet.evidence.disputes import MAX_COMMENT, DisputeView, dispute_meal, dispute_of
from wallet.evidence.rulings import MAX_REASON, RULING_ROLES, RulingRequest, record_rulings
from wallet.evidence.scan import scan
from wallet.evidence.views import MAX_PAGE, FindingFilter, list_findings, one_finding
from wallet.messages import T_
from wallet.models import RULING_OUTCOMES
from wallet.months import reportable_month
from wallet.parents.access_log import record_access
from wallet.principals import STAFF_ROLES, Principal
from wallet.reconciliation.scope import resolve_scope

staff_blueprint = Blueprint("findings", __name__, url_prefix="/api/v1/auditor")
parent_blueprint = Blueprint("parent_disputes", __name__, url_prefix="/api/v1/parent")
READERS = ("auditor", "operator", "school_admin")


class ListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    month = Text(required=True, max_length=7)
    rule = fields.String(validate=validate.OneOf(RULES))
    school = Bin()
    day = fields.Date()
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE))


class RulingItem(Schema):
    finding_id = StrictInteger(data_key="findingId", required=True, strict=True,
                               validate=validate.Range(min=1, max=2**62))
    outcome = fields.String(required=True, validate=validate.OneOf(RULING_OUTCOMES))
    reason = Text(required=True, min_length=3, max_length=MAX_REASON, prose=True)


class RulingsBody(Schema):
    items = fields.List(fields.Nested(RulingItem), required=True, validate=validate.Length(min=1, max=500))


class ScanBody(Schema):
    month = Text(required=True, max_length=7)
    region = Text(min_length=1, max_length=32)


class DisputeBody(Schema):
    comment = Text(allow_none=True, load_default=None, min_length=0, max_length=MAX_COMMENT, prose=True)


def _staff(*roles: str) -> Principal:
    principal = authenticate_staff(*STAFF_ROLES)
    if principal.role not in roles:
        raise ProblemError(403, "forbidden", T_("Findings are for auditors, operators and school administrators."))
    return principal


@staff_blueprint.get("/findings")
def findings() -> Response:
    """The month's findings in the caller's scope, filtered by rule, school and day, oldest first."""
    principal = _staff(*READERS)
    args = query(ListQuery())
    month = reportable_month(args["month"], field="query/month")
    if "day" in args and not month.first_day <= args["day"] <= month.last_day:
        raise InvalidInput("validation_failed", T_("the day lies outside the month"),
                           [FieldError("query/day", T_("a day of the month"), "out_of_range")])
    session = session_scope.session()
    read_only(session)
    scope = resolve_scope(session, principal, school=args.get("school"))
    views = list_findings(session, scope.school_ids, FindingFilter(
        month=str(month), rule=args.get("rule"), day=args.get("day"), after_id=args["after"],
        limit=args["limit"] + 1))
    more = len(views) > args["limit"]
    views = views[: args["limit"]]
    lang = language()
    return jsonify(items=[v.as_json(lang) for v in views], nextAfter=views[-1].finding.id if more else None)


@staff_blueprint.get("/findings/<finding_id>")
def finding(finding_id: str) -> Response:
    principal = _staff(*READERS)
    session = session_scope.session()
    read_only(session)
    scope = resolve_scope(session, principal)
    number = int(finding_id) if finding_id.isascii() and finding_id.isdigit() and len(finding_id) <= 18 else 0
    view = one_finding(session, scope.school_ids, number)
    if view is None:
        raise NotFound("finding_not_found", T_("No finding with this number in your scope."))
    return jsonify(view.as_json(language()))


@staff_blueprint.post("/findings/rulings")
def rulings() -> tuple[Response, int]:
    """Rule on findings: all the items are checked first, and one bad item records nothing (422)."""
    principal = _staff(*RULING_ROLES)
    data = load(RulingsBody(), json_body())
    made = record_rulings(session_scope.session(), principal,
                          [RulingRequest(i["finding_id"], i["outcome"], i["reason"]) for i in data["items"]],
                          dt.datetime.now(dt.UTC))
    return jsonify(items=[{"findingId": r.finding_id, "outcome": r.outcome, "reason": r.reason,
                           "actor": r.actor, "at": iso(r.at)} for r in made]), 201


@staff_blueprint.post("/findings/scan")
def scan_month() -> Response:
    """Run the month's rules over the caller's scope (a region for auditors); records only new findings."""
    principal = _staff(*RULING_ROLES)
    data = load(ScanBody(), json_body())
    month = reportable_month(data["month"])
    session = session_scope.session()
    scope = resolve_scope(session, principal, region=data.get("region"))
    report = scan(session, scope, month, now=dt.datetime.now(dt.UTC))
    session.commit()
    return jsonify(month=report.month, scope=report.scope, entries=report.entries, newFindings=report.new_total,
                   newByRule=report.new)


# --- parents ---------------------------------------------------------------------------------------------


parent_blueprint.after_request(private_answer)


def _entry_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def dispute_json(child_id: Any, view: DisputeView) -> dict[str, Any]:
    return {"childId": str(child_id), "entryId": view.entry_id, "comment": view.comment,
            "disputedAt": iso(view.at) if view.at else None, "state": view.state,
            "complaints": f"/api/v1/parent/children/{child_id}/complaints"}


@parent_blueprint.post("/children/<child_id>/meals/<entry_id>/dispute")
def post_dispute(child_id: str, entry_id: str) -> tuple[Response, int]:
    """"My child did not eat this": once per meal; holds the meal's payment until an auditor rules."""
    principal = authenticate_parent()
    child = own_child(principal, child_id)  # consent checked by the lookup
    data = load(DisputeBody(), json_body())
    view = dispute_meal(session_scope.session(), parent_iin=principal.subject, child_id=child.id,
                        entry_id=_entry_id(entry_id), comment=data["comment"], now=dt.datetime.now(dt.UTC))
    record_access(session_scope.session(), actor_role=principal.role, actor_id=principal.subject,
                  student_ids=[child.id], action="complaint_write", detail=f"dispute of entry {view.entry_id}")
    return jsonify(dispute_json(child.id, view)), 201


@parent_blueprint.get("/children/<child_id>/meals/<entry_id>/dispute")
def get_dispute(child_id: str, entry_id: str) -> Response:
    principal = authenticate_parent()
    read_only(session_scope.session())
    child = own_child(principal, child_id, "complaints_read", f"dispute of entry {entry_id[:20]}")
    return jsonify(dispute_json(child.id, dispute_of(session_scope.session(), child.id, _entry_id(entry_id))))


BLUEPRINTS = (staff_blueprint, parent_blueprint)
