"""Complaints to the education authority: parents file them from their feedback on a child's meal and read
the answers; auditors of the school's region (and operators) list, read and answer them.

Parents: the child is found among the caller's own (any other id is the same 404 as elsewhere), a child
whose vouchers hold no accepted consent is 403 `consent_required` as on the feedback endpoints, and every
read of a child's complaints is written to the access log. Staff: auditors see their region, operators
everything; school administrators and suppliers get 403 (the function is the authority's). Views parse,
call one service (which commits) and answer.
"""

from __future__ import annotations

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
from wallet.complaints import (
    COMPLAINT_ROLES,
    MAX_ANSWER,
    MAX_TEXT,
    ComplaintView,
    change_status,
    child_complaints,
    get_complaint,
    list_complaints,
    submit_complaint,
)
from wallet.db import read_only
from wallet.messages import T_
from wallet.models import COMPLAINT_STATUSES
from wallet.parents import cursors
from wallet.parents.access_log import record_access
from wallet.principals import STAFF_ROLES, Principal

parent_blueprint = Blueprint("parent_complaints", __name__, url_prefix="/api/v1/parent")
staff_blueprint = Blueprint("complaints", __name__, url_prefix="/api/v1/auditor")
MAX_LIMIT = 200


class ComplaintBody(Schema):
    entry_id = StrictInteger(data_key="entryId", required=True, strict=True,
                             validate=validate.Range(min=1, max=2**62))
    text = Text(required=True, max_length=MAX_TEXT, prose=True)


class StatusBody(Schema):
    status = fields.String(required=True, validate=validate.OneOf(COMPLAINT_STATUSES))
    # Absent is None; an explicit null is refused, as openapi.yaml says (a string when given).
    answer = Text(load_default=None, allow_none=False, max_length=MAX_ANSWER, prose=True)
    note = Text(load_default=None, allow_none=False, max_length=MAX_TEXT, prose=True)


class ListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(COMPLAINT_STATUSES))
    school = Bin()
    cursor = Text(max_length=200)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))


def complaint_json(view: ComplaintView, *, for_parent: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "complaintId": view.id, "childId": str(view.child_id), "entryId": view.entry_id,
        "school": {"bin": view.school_bin,
                   "name": view.school_name_kk if language() == "kk" else view.school_name_ru},
        "region": view.region_code,
        "servingDay": view.serving_day.isoformat(), "mealType": view.meal_type, "text": view.text,
        "status": view.status, "answer": view.answer, "createdAt": iso(view.created_at),
        "updatedAt": iso(view.updated_at),
        "history": [{"fromStatus": h.from_status, "status": h.status, "actorRole": h.actor_role,
                     "actor": h.actor, "note": h.note, "at": iso(h.at)} for h in view.history],
    }
    if for_parent:
        body["filedByYou"] = view.filed_by_reader
    return body


# --- parents --------------------------------------------------------------------------------------------


parent_blueprint.after_request(private_answer)


@parent_blueprint.post("/children/<child_id>/complaints")
def post_complaint(child_id: str) -> tuple[Response, int]:
    """Escalate the feedback on one of the child's meals into a complaint to the education authority."""
    principal = authenticate_parent()
    child = own_child(principal, child_id)  # consent checked by the lookup
    data = load(ComplaintBody(), json_body())
    view = submit_complaint(session_scope.session(), parent_iin=principal.subject, child_id=child.id,
                            entry_id=data["entry_id"], text=data["text"])
    record_access(session_scope.session(), actor_role=principal.role, actor_id=principal.subject,
                  student_ids=[child.id], action="complaint_write", detail=f"complaint {view.id}")
    return jsonify(complaint_json(view, for_parent=True)), 201


@parent_blueprint.get("/children/<child_id>/complaints")
def child_complaints_view(child_id: str) -> Response:
    """The child's complaints, newest first, with their answers and history (logged as a read)."""
    principal = authenticate_parent()
    read_only(session_scope.session())
    child = own_child(principal, child_id, "complaints_read")
    views = child_complaints(session_scope.session(), principal.subject, child.id)
    return jsonify(childId=str(child.id), items=[complaint_json(v, for_parent=True) for v in views])


# --- the authority --------------------------------------------------------------------------------------


def _complaint_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _staff() -> Principal:
    principal = authenticate_staff(*STAFF_ROLES)
    if principal.role not in COMPLAINT_ROLES:
        raise ProblemError(403, "forbidden", T_("Complaints are handled by auditors and operators."))
    return principal


@staff_blueprint.get("/complaints")
def complaints() -> Response:
    """Complaints of the caller's region, newest first, filtered by status and school."""
    principal = _staff()
    args = query(ListQuery())
    binding = f"{principal.role}|{principal.region_code}|{args.get('status')}|{args.get('school')}"
    before = None
    if "cursor" in args:
        values = cursors.decode("complaints", binding, args["cursor"])
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 1:
            raise cursors.invalid()
        before = values[0]
    views = list_complaints(session_scope.session(), principal, status=args.get("status"),
                            school_bin=args.get("school"), before_id=before, limit=args["limit"] + 1)
    more = len(views) > args["limit"]
    views = views[: args["limit"]]
    return jsonify(items=[complaint_json(v, for_parent=False) for v in views],
                   nextCursor=cursors.encode("complaints", binding, [views[-1].id]) if more else None)


@staff_blueprint.get("/complaints/<complaint_id>")
def complaint(complaint_id: str) -> Response:
    principal = _staff()
    view = get_complaint(session_scope.session(), principal, _complaint_id(complaint_id))
    return jsonify(complaint_json(view, for_parent=False))


@staff_blueprint.post("/complaints/<complaint_id>/status")
def complaint_status(complaint_id: str) -> Response:
    """Move a complaint one step: submitted -> in_review -> answered (with the answer)."""
    principal = _staff()
    data = load(StatusBody(), json_body())
    view = change_status(session_scope.session(), principal, _complaint_id(complaint_id), data["status"],
                         answer=data["answer"], note=data["note"])
    return jsonify(complaint_json(view, for_parent=False))
