"""Endpoints for parents (eGov Mobile style): children, meals today and over time, menus with allergen
warnings, allergies, feedback and the access log (notifications: api/parent_notifications.py).

Every view: authenticate the parent (identity-provider JWT, `sub` = the parent's IIN), find the child among
the parent's own (any other id is the same 404), read, write the access log, answer. Views never commit;
the services in wallet.parents do.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify

from api import session_scope
from api.auth.idp import authenticate_parent
from api.errors import ProblemError
from api.i18n import language
from api.schemas.common import json_body, load, query
from api.schemas.parents import (
    AllergiesBody,
    CursorQuery,
    FeedbackBody,
    HistoryQuery,
    MenuQuery,
    access_json,
    child_json,
    feedback_json,
    history_item_json,
    iso,
    menu_json,
    today_json,
)
from wallet import prepared
from wallet.db import read_only
from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_
from wallet.parents import cursors
from wallet.parents.access_log import AccessNote, read_access_log, record_access
from wallet.parents.allergies import get_allergies, set_allergies
from wallet.parents.children import DEFAULT_ZONE, Child, ChildNotFound, find_child, list_children
from wallet.parents.feedback import latest_feedback, submit_feedback
from wallet.parents.history import MAX_RANGE_DAYS, check_range, meal_history
from wallet.parents.menus import day_menu
from wallet.parents.today import child_today, child_today_prepared, today_status
from wallet.principals import Principal
from wallet.vouchers.views import voucher_states

log = logging.getLogger(__name__)
blueprint = Blueprint("parents", __name__, url_prefix="/api/v1/parent")

# The same body for a child that does not exist and for someone else's child, whatever id was asked for.
CHILD_INSTANCE = "/api/v1/parent/children/{childId}"


def private_answer(response: Response) -> Response:
    """Headers of every answer about a parent's children: never cached, varies by language and caller.
    The other parent blueprints (vouchers, QR codes, complaints) register it too."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language()
    response.headers["X-Content-Type-Options"] = "nosniff"
    if "Vary" in response.headers:
        response.vary.add("Accept-Language")
        response.vary.add("Authorization")
    else:  # the usual case, set at once: each vary.add re-parses and re-writes the header (5% of a today read)
        response.headers["Vary"] = "Accept-Language, Authorization"
    return response


blueprint.after_request(private_answer)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _reading() -> None:
    """This request only reads (and appends to the access log): no transaction needed (see read_only)."""
    read_only(session_scope.session())


def _child_id(raw_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw_id) if len(raw_id) <= 45 else None
    except ValueError:
        return None


def own_child(principal: Principal, raw_id: str, action: str | None = None, detail: str | None = None, *,
           consent: bool = True) -> Child:
    """The caller's child with this id, or the one 404 for every other id. With `action`, the read is
    written to the access log by the same lookup (so validate the request before calling this).

    With `consent`, a child of the caller whose vouchers hold no accepted consent is a 403
    `consent_required` (wallet.vouchers.consent_rule), checked by the lookup itself; nothing is read or logged.
    """
    note = AccessNote(principal.role, principal.subject, action, detail) if action else None
    try:
        return find_child(session_scope.session(), principal.subject, _child_id(raw_id), _now(), log=note,
                          consent=consent)
    except ChildNotFound as exc:
        raise child_not_found_problem(exc) from None


def child_not_found_problem(exc: ChildNotFound) -> ProblemError:
    return ProblemError(404, exc.code, exc.message, extra={"instance": CHILD_INSTANCE})


def _log(principal: Principal, child_ids: Any, action: str, detail: str | None = None) -> None:
    record_access(session_scope.session(), actor_role=principal.role, actor_id=principal.subject,
                  student_ids=child_ids, action=action, detail=detail)


def _entry_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


# --- children and meals -------------------------------------------------------------------------------------------


@blueprint.get("/children")
def children() -> Response:
    principal = authenticate_parent()
    _reading()
    session = session_scope.session()
    found = list_children(session, principal.subject, _now(),
                          log=AccessNote(principal.role, principal.subject, "children"))
    states = voucher_states(session, principal.subject, [child.id for child in found]) if found else {}
    # Without accepted consent only the offer is shown (docs/decisions.md, "Vouchers and consent").
    todays = [today_status(session, child) if states.get(child.id, ("", True))[1] else None for child in found]
    lang = language()
    return jsonify(items=[child_json(child, today, lang, states.get(child.id, (None, True))[0])
                          for child, today in zip(found, todays, strict=True)])


@blueprint.get("/children/<child_id>/meals/today")
def meals_today(child_id: str) -> Response:
    principal = authenticate_parent()
    note = AccessNote(principal.role, principal.subject, "meals_today")
    engine = session_scope.engine()
    try:
        if prepared.supported(engine):  # no ORM session: the statement through the driver (wallet.prepared)
            child, today = child_today_prepared(engine, principal.subject, _child_id(child_id), _now(), note)
        else:
            _reading()
            child, today = child_today(session_scope.session(), principal.subject, _child_id(child_id), _now(),
                                       note)
    except ChildNotFound as exc:
        raise child_not_found_problem(exc) from None
    return jsonify(childId=str(child.id), **today_json(today))


@blueprint.get("/children/<child_id>/meals")
def meals(child_id: str) -> Response:
    principal = authenticate_parent()
    _reading()
    args = query(HistoryQuery())
    asked_from, asked_to = args.get("day_from"), args.get("day_to")
    if asked_from:  # (a missing `to` is today at the school: Kazakhstan has one time zone)
        check_range(asked_from, asked_to or dt.datetime.now(ZoneInfo(DEFAULT_ZONE)).date())
    # A cursor is bound to the child and to the range as asked (defaults included as "none").
    binding = f"{_child_id(child_id)}|{asked_from}|{asked_to}"
    after = _history_key(cursors.decode("meals", binding, args["cursor"])) if "cursor" in args else None
    child = own_child(principal, child_id, "meals", f"{asked_from or ''}..{asked_to or ''}")
    day_to: dt.date = asked_to or child.today
    day_from: dt.date = asked_from or day_to - dt.timedelta(days=MAX_RANGE_DAYS - 1)
    items, next_key = meal_history(session_scope.session(), child, day_from, day_to, after=after,
                                   limit=args["limit"])
    lang = language()
    body = [history_item_json(item, lang) for item in items]
    next_cursor = cursors.encode("meals", binding, [next_key[0].isoformat(), next_key[1]]) if next_key else None
    return jsonify(childId=str(child.id), **{"from": day_from.isoformat(), "to": day_to.isoformat()},
                   items=body, nextCursor=next_cursor)


def _history_key(values: list[Any]) -> tuple[dt.date, int]:
    try:
        day_text, entry_id = values
        day = dt.date.fromisoformat(day_text)
    except (TypeError, ValueError) as exc:
        raise cursors.invalid() from exc
    if not isinstance(entry_id, int) or isinstance(entry_id, bool) or entry_id < 1:
        raise cursors.invalid()
    return day, entry_id


@blueprint.get("/children/<child_id>/menu")
def menu(child_id: str) -> Response:
    principal = authenticate_parent()
    _reading()
    asked: dt.date | None = query(MenuQuery()).get("day")
    if asked is not None and abs((asked - dt.datetime.now(dt.UTC).date()).days) > MAX_RANGE_DAYS:
        raise InvalidInput("validation_failed", T_("Menus are shown for a year either side of today."),
                           [FieldError("query/date", T_("within %(MAX_RANGE_DAYS)s days of today",
                                                        MAX_RANGE_DAYS=MAX_RANGE_DAYS), "out_of_range")])
    child = own_child(principal, child_id, "menu", asked.isoformat() if asked else None)
    found = day_menu(session_scope.session(), child, asked or child.today)
    return jsonify(childId=str(child.id), **menu_json(found, language()))


# --- allergies ----------------------------------------------------------------------------------------------------


def _allergies_json(child: Child, row: Any) -> dict[str, Any]:
    return {"childId": str(child.id), "allergens": row.allergen_list if row else [],
            "updatedAt": iso(row.updated_at) if row else None}


@blueprint.get("/children/<child_id>/allergies")
def allergies(child_id: str) -> Response:
    principal = authenticate_parent()
    _reading()
    child = own_child(principal, child_id, "allergies_read")
    return jsonify(_allergies_json(child, get_allergies(session_scope.session(), child.id)))


@blueprint.put("/children/<child_id>/allergies")
def put_allergies(child_id: str) -> Response:
    principal = authenticate_parent()
    child = own_child(principal, child_id)
    data = load(AllergiesBody(), json_body())
    row = set_allergies(session_scope.session(), principal.subject, child.id, data["allergens"])
    body = _allergies_json(child, row)
    _log(principal, [child.id], "allergies_write", ",".join(row.allergen_list) or "none")
    return jsonify(body)


# --- feedback -----------------------------------------------------------------------------------------------------


@blueprint.post("/children/<child_id>/meals/<entry_id>/feedback")
def post_feedback(child_id: str, entry_id: str) -> tuple[Response, int]:
    principal = authenticate_parent()
    child = own_child(principal, child_id)
    data = load(FeedbackBody(), json_body())
    view, first = submit_feedback(session_scope.session(), parent_iin=principal.subject, child_id=child.id,
                                  entry_id=_entry_id(entry_id), rating=data["rating"], tags=data["tags"],
                                  comment=data["comment"])
    _log(principal, [child.id], "feedback_write", f"entry {view.entry_id} v{view.version}")
    return jsonify(childId=str(child.id), **feedback_json(view)), 201 if first else 200


@blueprint.get("/children/<child_id>/meals/<entry_id>/feedback")
def get_feedback(child_id: str, entry_id: str) -> Response:
    principal = authenticate_parent()
    _reading()
    child = own_child(principal, child_id, "feedback_read", f"entry {entry_id[:20]}")
    view = latest_feedback(session_scope.session(), child.id, _entry_id(entry_id))
    return jsonify(childId=str(child.id), **feedback_json(view))


@blueprint.get("/children/<child_id>/meals/<entry_id>/receipt")
def meal_receipt(child_id: str, entry_id: str) -> Response:
    """The meal's receipt: its leaf, inclusion proofs and the witnesses' cosignatures (checkable offline)."""
    from flask import current_app

    from wallet.witnessing.receipts import meal_receipt as make_receipt

    principal = authenticate_parent()
    _reading()
    child = own_child(principal, child_id, "meals", f"receipt entry {entry_id[:20]}")
    policy = current_app.config["WALLET_SETTINGS"].witness_policy
    return jsonify(make_receipt(session_scope.session(), policy, child.id, _entry_id(entry_id)))


# --- access log ---------------------------------------------------------------------------------------------------


@blueprint.get("/children/<child_id>/access-log")
def access_log(child_id: str) -> Response:
    principal = authenticate_parent()
    _reading()
    child = own_child(principal, child_id, consent=False)  # who read the child's data: always the parent's to see
    args = query(CursorQuery())
    binding = str(child.id)
    before = None
    if "cursor" in args:
        values = cursors.decode("access", binding, args["cursor"])
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 1:
            raise cursors.invalid()
        before = values[0]
    records = read_access_log(session_scope.session(), child.id, principal.subject, before_id=before,
                              limit=args["limit"] + 1)
    more = len(records) > args["limit"]
    records = records[: args["limit"]]
    body = [access_json(r) for r in records]
    _log(principal, [child.id], "access_log")
    next_cursor = cursors.encode("access", binding, [records[-1].id]) if more else None
    return jsonify(childId=str(child.id), items=body, nextCursor=next_cursor)
