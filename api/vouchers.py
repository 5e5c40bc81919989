"""Parents' voucher endpoints: list offers and vouchers of their children, read one, accept (with consent
to a named consent text version), decline, withdraw consent.

Each view authenticates, parses, calls wallet.vouchers (which commits) and writes the child access log.
Any voucher id that is not of one of the caller's children is the same 404 as an unknown one.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Blueprint, Response, jsonify

from api import session_scope
from api.auth.idp import authenticate_parent
from api.errors import ProblemError
from api.i18n import language
from api.schemas.common import json_body, load
from api.schemas.vouchers import AcceptBody, voucher_json
from wallet.errors import NotFound
from wallet.parents.access_log import record_access
from wallet.principals import Principal
from wallet.vouchers import service
from wallet.vouchers.views import parent_voucher_view, parent_vouchers

blueprint = Blueprint("parent_vouchers", __name__, url_prefix="/api/v1/parent/vouchers")
VOUCHER_INSTANCE = "/api/v1/parent/vouchers/{voucherId}"


@blueprint.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language()
    response.vary.add("Accept-Language")
    response.vary.add("Authorization")
    return response


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
    vid = _voucher_id(voucher_id)
    try:
        service.accept(session_scope.session(), principal.subject, vid, data["consent_text_version"], _now())
        return _answer(principal, vid, "voucher_accept")  # type: ignore[arg-type]
    except service.VoucherNotFound as exc:
        raise _not_found(exc) from None


@blueprint.post("/<voucher_id>/decline")
def decline(voucher_id: str) -> Response:
    principal = authenticate_parent()
    vid = _voucher_id(voucher_id)
    try:
        service.decline(session_scope.session(), principal.subject, vid, _now())
        return _answer(principal, vid, "voucher_decline")  # type: ignore[arg-type]
    except service.VoucherNotFound as exc:
        raise _not_found(exc) from None


@blueprint.post("/<voucher_id>/withdraw")
def withdraw(voucher_id: str) -> Response:
    principal = authenticate_parent()
    vid = _voucher_id(voucher_id)
    try:
        service.withdraw(session_scope.session(), principal.subject, vid, _now())
        return _answer(principal, vid, "voucher_withdraw")  # type: ignore[arg-type]
    except service.VoucherNotFound as exc:
        raise _not_found(exc) from None
BLUEPRINTS = (blueprint,)
