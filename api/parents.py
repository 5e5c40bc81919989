"""Endpoints for parents (eGov Mobile style): children, meals today and over time, menus with allergen
warnings, allergies, feedback, notifications (poll or server-sent events) and the access log.

Every view: authenticate the parent (identity-provider JWT, `sub` = the parent's IIN), find the child among
the parent's own (any other id is the same 404), read, write the access log, answer. Views never commit;
the services in wallet.parents do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request

from api import session_scope
from api.auth.idp import authenticate_parent, parent_of, verified_claims
from api.errors import ProblemError
from api.i18n import language
from api.notification_streams import Subscription, hub_of
from api.schemas.common import json_body, load, query
from api.schemas.parents import (
    AllergiesBody,
    CursorQuery,
    FeedbackBody,
    HistoryQuery,
    MenuQuery,
    NotificationsQuery,
    access_json,
    child_json,
    feedback_json,
    history_item_json,
    iso,
    menu_json,
    today_json,
)
from wallet.db import read_only
from wallet.errors import FieldError, InvalidInput
from wallet.models import ParentNotification
from wallet.parents import cursors
from wallet.parents.access_log import AccessNote, read_access_log, record_access
from wallet.parents.allergies import get_allergies, set_allergies
from wallet.parents.children import DEFAULT_ZONE, Child, ChildNotFound, find_child, list_children
from wallet.parents.feedback import latest_feedback, submit_feedback
from wallet.parents.history import MAX_RANGE_DAYS, check_range, meal_history
from wallet.parents.menus import day_menu
from wallet.parents.notifications import NotificationCursor, read_notifications
from wallet.parents.today import child_today, today_status
from wallet.principals import Principal
from wallet.vouchers.views import voucher_states

log = logging.getLogger(__name__)
blueprint = Blueprint("parents", __name__, url_prefix="/api/v1/parent")

# The same body for a child that does not exist and for someone else's child, whatever id was asked for.
CHILD_INSTANCE = "/api/v1/parent/children/{childId}"
# Server-sent events: each connection lives at most this long and never past its token's `exp` (the client
# reconnects with a fresh token and Last-Event-ID), the process's hub polls the outbox this often for all
# streams (api/notification_streams.py; gunicorn's gevent workers hold the open connections), and an idle
# stream gets a comment line this often. Overridable through app.config.
STREAM_LIFETIME_S = 3600.0
STREAM_POLL_S = 1.0
STREAM_KEEPALIVE_S = 15.0
STREAM_RETRY_MS = 2000
STREAM_BATCH = 100


def private_answer(response: Response) -> Response:
    """Headers of every answer about a parent's children: never cached, varies by language and caller.
    The other parent blueprints (vouchers, QR codes, complaints) register it too."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.vary.add("Accept-Language")
    response.vary.add("Authorization")
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
    _reading()
    note = AccessNote(principal.role, principal.subject, "meals_today")
    try:
        child, today = child_today(session_scope.session(), principal.subject, _child_id(child_id), _now(), note)
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
        raise InvalidInput("validation_failed", "Menus are shown for a year either side of today.",
                           [FieldError("query/date", f"within {MAX_RANGE_DAYS} days of today", "out_of_range")])
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


# --- notifications ------------------------------------------------------------------------------------------------


def _notification_json(row: ParentNotification, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    if row.voucher_id is not None:  # an offer (wallet.vouchers.offers): what to answer, never the ground
        return {"childId": str(row.student_id), "childFirstName": names.get(row.student_id, ""),
                "kind": row.kind, "voucherId": str(row.voucher_id)}
    return {"childId": str(row.student_id), "childFirstName": names.get(row.student_id, ""),
            "entryId": row.entry_id, "kind": row.kind, "mealType": row.meal_type,
            "date": row.serving_day.isoformat(), "servedAt": iso(row.served_at), "billable": row.billable}


def _cursor_from(principal: Principal, token: str | None, field_name: str) -> NotificationCursor:
    if token is None:
        return NotificationCursor.fresh(_now())
    return NotificationCursor.decode(principal.subject, token, field_name)


@blueprint.get("/notifications")
def notifications() -> Response:
    principal = authenticate_parent()
    _reading()
    args = query(NotificationsQuery())
    cursor = _cursor_from(principal, args.get("since"), "query/since")
    session = session_scope.session()
    kids = list_children(session, principal.subject, _now())
    read, cursor = read_notifications(session, [c.id for c in kids], cursor, limit=args["limit"])
    rows = _deliverable(read, _without_consent(session, principal, kids))
    names = {c.id: c.first_name for c in kids}
    body = [_notification_json(r, names) for r in rows]
    if rows:
        _log(principal, [r.student_id for r in rows], "notifications")
    return jsonify(items=body, cursor=cursor.encode(principal.subject), hasMore=len(read) == args["limit"])


def _without_consent(session: Any, principal: Principal, kids: list[Child]) -> frozenset[uuid.UUID]:
    """Children whose vouchers hold no accepted consent: their offers are delivered, their meals are not."""
    return _hidden(session, principal.subject, [c.id for c in kids])


def _hidden(session: Any, parent_iin: str, child_ids: list[uuid.UUID]) -> frozenset[uuid.UUID]:
    states = voucher_states(session, parent_iin, child_ids) if child_ids else {}
    return frozenset(child for child, (_, shown) in states.items() if not shown)


def _deliverable(rows: list[ParentNotification], hidden: frozenset[uuid.UUID]) -> list[ParentNotification]:
    return [r for r in rows if r.voucher_id is not None or r.student_id not in hidden]


@blueprint.get("/notifications/stream")
def notification_stream() -> Response:
    """text/event-stream of new meal notifications: honours Last-Event-ID, ends by the token's expiry."""
    claims = verified_claims()
    principal = parent_of(claims)
    header = request.headers.get("Last-Event-ID")
    token = header if header else query(NotificationsQuery()).get("since")
    cursor = _cursor_from(principal, token or None, "header/Last-Event-ID" if header else "query/since")
    config = current_app.config
    hub = hub_of(current_app, poll_s=float(config.get("WALLET_PARENT_STREAM_POLL_S", STREAM_POLL_S)))
    kids = list_children(session_scope.session(), principal.subject, _now())
    subscription = hub.subscribe(principal.subject, [c.id for c in kids])  # 429 at the caps
    try:
        lifetime = min(float(config.get("WALLET_PARENT_STREAM_LIFETIME_S", STREAM_LIFETIME_S)),
                       float(claims["exp"]) - time.time())
        stream = _event_stream(
            factory=current_app.extensions["wallet.session_factory"], principal=principal,
            names={c.id: c.first_name for c in kids}, cursor=cursor,
            hidden=_without_consent(session_scope.session(), principal, kids), lifetime=lifetime,
            keepalive=float(config.get("WALLET_PARENT_STREAM_KEEPALIVE_S", STREAM_KEEPALIVE_S)),
            subscription=subscription, on_end=hub.unsubscribe,
        )
        response = Response(stream, mimetype="text/event-stream",
                            headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
    except BaseException:
        hub.unsubscribe(subscription)
        raise
    response.call_on_close(lambda: hub.unsubscribe(subscription))  # also when the body was never started
    return response


def _event_stream(*, factory: Any, principal: Principal, names: dict[uuid.UUID, str], cursor: NotificationCursor,
                  lifetime: float, keepalive: float, subscription: Subscription,
                  on_end: Callable[[Subscription], None] = lambda _s: None,
                  hidden: frozenset[uuid.UUID] = frozenset()) -> Iterator[str]:
    """Runs after the view has returned. It reads the outbox once at the start and then only when the hub
    wakes it (api/notification_streams.py), each time in a short session of its own, never the request's:
    an idle stream makes no query and holds no database connection."""
    try:
        yield f"retry: {STREAM_RETRY_MS}\n: {len(names)} children\n\n"
        deadline = time.monotonic() + lifetime
        last_sent = time.monotonic()
        ids = list(names)
        woken = True  # the first read: what is waiting already
        while True:
            if woken:
                try:
                    read, after, rows, hidden = _read_stream(factory, principal, ids, cursor, hidden)
                except Exception:  # the client reconnects with Last-Event-ID and resumes where it was
                    log.exception("notification stream stopped by an error")
                    return
                for row in rows:
                    cursor = cursor.after([row])
                    payload = json.dumps(_notification_json(row, names), ensure_ascii=False, separators=(",", ":"))
                    event = "voucher" if row.voucher_id is not None else "meal"
                    yield f"id: {cursor.encode(principal.subject)}\nevent: {event}\ndata: {payload}\n\n"
                cursor = after
                if rows:
                    last_sent = time.monotonic()
                if len(read) == STREAM_BATCH:
                    continue  # more are waiting
            now = time.monotonic()
            if now >= deadline:
                return
            if now - last_sent >= keepalive:
                yield ": keepalive\n\n"
                last_sent = now
            woken = subscription.wait(min(deadline, last_sent + keepalive) - now)
    finally:
        on_end(subscription)


def _read_stream(factory: Any, principal: Principal, ids: list[uuid.UUID], cursor: NotificationCursor,
                 hidden: frozenset[uuid.UUID]) -> tuple[list[ParentNotification], NotificationCursor,
                                                        list[ParentNotification], frozenset[uuid.UUID]]:
    """The stream's next rows (read, cursor after them, those deliverable), access-logged; consent is judged
    as it is now whenever meals are among them (it may have been withdrawn)."""
    with factory() as session:
        read, after = read_notifications(session, ids, cursor, limit=STREAM_BATCH)
        if any(r.voucher_id is None for r in read):
            hidden = _hidden(session, principal.subject, ids)
        rows = _deliverable(read, hidden)
        if rows:
            record_access(session, actor_role=principal.role, actor_id=principal.subject,
                          student_ids=[r.student_id for r in rows], action="notifications", detail="stream")
    return read, after, rows, hidden
