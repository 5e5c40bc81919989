"""Parents' voucher endpoints: list offers and vouchers of their children, read one, accept (with consent
to a named consent text version), decline, withdraw consent. And the school's monthly eligibility lists
(`/api/v1/auditor/schools/{schoolBin}/eligibility-lists`), sent by its social pedagogue (school_admin).

Each view authenticates, parses, calls wallet.vouchers (which commits) and, for parents, writes the child
access log. Any voucher id that is not of one of the caller's children is the same 404 as an unknown one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from api import session_scope
from api.auth.idp import authenticate_parent, authenticate_staff
from api.errors import ProblemError
from api.i18n import language
from api.parents import private_answer
from api.schemas.common import json_body, load, query
from api.schemas.vouchers import AcceptBody, MonthQuery, eligibility_list_json, voucher_json
from wallet.errors import NotFound
from wallet.messages import T_
from wallet.months import parse_month
from wallet.parents.access_log import record_access
from wallet.principals import Principal
from wallet.scope import school_in_scope
from wallet.vouchers import eligibility_list_files, eligibility_lists, service
from wallet.vouchers.views import parent_voucher_view, parent_vouchers

blueprint = Blueprint("parent_vouchers", __name__, url_prefix="/api/v1/parent/vouchers")
VOUCHER_INSTANCE = "/api/v1/parent/vouchers/{voucherId}"


blueprint.after_request(private_answer)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _voucher_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if len(raw) <= 45 else None
    except ValueError:
        return None


def _log(principal: Principal, child_id: uuid.UUID, action: str, voucher_id: uuid.UUID) -> None:
    record_access(session_scope.session(), actor_role=principal.role, actor_id=principal.subject,
                  student_ids=[child_id], action=action, detail=f"voucher {voucher_id}")


def _not_found(exc: NotFound) -> ProblemError:
    return ProblemError(404, exc.code, exc.message, extra={"instance": VOUCHER_INSTANCE})


def _answer(principal: Principal, voucher_id: uuid.UUID, action: str) -> Response:
    session = session_scope.session()
    view = parent_voucher_view(session, principal.subject, voucher_id, _now())
    _log(principal, view.voucher.student_id, action, voucher_id)
    return jsonify(voucher_json(view, language(), principal.subject, detail=True))


@blueprint.get("")
def list_vouchers() -> Response:
    principal = authenticate_parent()
    session = session_scope.session()
    views = parent_vouchers(session, principal.subject, _now())
    lang = language()
    body = [voucher_json(v, lang, principal.subject) for v in views]
    if views:
        record_access(session, actor_role=principal.role, actor_id=principal.subject,
                      student_ids=[v.voucher.student_id for v in views], action="vouchers")
    return jsonify(items=body)


@blueprint.get("/<voucher_id>")
def get_voucher(voucher_id: str) -> Response:
    principal = authenticate_parent()
    try:
        return _answer(principal, _voucher_id(voucher_id), "voucher_read")  # type: ignore[arg-type]
    except service.VoucherNotFound as exc:
        raise _not_found(exc) from None


@blueprint.post("/<voucher_id>/accept")
def accept(voucher_id: str) -> Response:
    principal = authenticate_parent()
    data = load(AcceptBody(), json_body())
    return _change(principal, voucher_id, "voucher_accept", lambda session, vid: service.accept(
        session, principal.subject, vid, data["consent_text_version"], _now()))


@blueprint.post("/<voucher_id>/decline")
def decline(voucher_id: str) -> Response:
    principal = authenticate_parent()
    return _change(principal, voucher_id, "voucher_decline",
                   lambda session, vid: service.decline(session, principal.subject, vid, _now()))


@blueprint.post("/<voucher_id>/withdraw")
def withdraw(voucher_id: str) -> Response:
    principal = authenticate_parent()
    return _change(principal, voucher_id, "voucher_withdraw",
                   lambda session, vid: service.withdraw(session, principal.subject, vid, _now()))


def _change(principal: Principal, voucher_id: str, action: str,
            change: Callable[[Session, uuid.UUID | None], object]) -> Response:
    """A parent's change of one of their vouchers (wallet.vouchers.service commits it), answered with the
    voucher as it is now; any voucher not of the caller's children is the same 404."""
    vid = _voucher_id(voucher_id)
    try:
        change(session_scope.session(), vid)
        return _answer(principal, vid, action)  # type: ignore[arg-type]
    except service.VoucherNotFound as exc:
        raise _not_found(exc) from None


# --- monthly eligibility lists (staff) --------------------------------------------------------------------------

staff_blueprint = Blueprint("eligibility_lists", __name__, url_prefix="/api/v1/auditor/schools")
# Who may see a school's lists (personal data of entitled pupils): not suppliers.
LIST_READERS = ("school_admin", "operator", "auditor")


@staff_blueprint.post("/<school_bin>/eligibility-lists")
def submit_list(school_bin: str) -> tuple[Response, int]:
    """The month's list as text/csv (the file `wallet import eligibility-list` takes) or JSON."""
    principal = authenticate_staff("school_admin", "operator")
    session = session_scope.session()
    if request.mimetype == "text/csv":
        source, body = "csv", None
    elif request.is_json:
        source, body = "json", json_body()
    else:
        raise ProblemError(415, "unsupported_media_type", T_("Send the list as text/csv or application/json."))
    school = school_in_scope(session, principal, school_bin)
    document = (eligibility_list_files.parse_list_csv(request.get_data(cache=True)) if source == "csv"
                else eligibility_list_files.parse_list_json(body, school.bin))
    now = _now()
    view = eligibility_lists.submit_list(session, school, document, submitted_by=principal.actor,
                                         today=now.astimezone(ZoneInfo(school.timezone)).date(), now=now,
                                         source=source)
    return jsonify(eligibility_list_json(view, language())), 201


@staff_blueprint.get("/<school_bin>/eligibility-lists")
def get_list(school_bin: str) -> Response:
    principal = authenticate_staff(*LIST_READERS)
    month = parse_month(query(MonthQuery())["month"], field="query/month")
    session = session_scope.session()
    school = school_in_scope(session, principal, school_bin)
    return jsonify(eligibility_list_json(eligibility_lists.list_for_month(session, school, month), language()))


BLUEPRINTS = (blueprint, staff_blueprint)
