"""Parents' notifications: a since-cursor poll and a server-sent event stream, fed by the outbox that ingest
writes in the same transaction as the meal entries (wallet.parents.notifications).

An open stream costs no worker and no database connection: gunicorn's gevent workers hold it, and the
process's hub (api/notification_streams.py) wakes it only when one of the parent's children got a row. What
a parent may receive is the consent rule that push delivery follows too; every delivery is access-logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from api import session_scope
from api.auth.idp import authenticate_parent, parent_of, verified_claims
from api.notification_streams import Subscription, hub_of
from api.parents import private_answer
from api.schemas.common import query
from api.schemas.parents import NotificationsQuery, iso
from wallet.db import read_only
from wallet.models import ParentNotification
from wallet.parents.access_log import record_access
from wallet.parents.children import Child, list_children
from wallet.parents.notifications import NotificationCursor, deliverable, read_notifications, withheld_children
from wallet.principals import Principal

log = logging.getLogger(__name__)
blueprint = Blueprint("parent_notifications", __name__, url_prefix="/api/v1/parent")
blueprint.after_request(private_answer)

# Server-sent events: each connection lives at most this long and never past its token's `exp` (the client
# reconnects with a fresh token and Last-Event-ID), the process's hub polls the outbox this often for all
# streams (api/notification_streams.py; gunicorn's gevent workers hold the open connections), and an idle
# stream gets a comment line this often. Overridable through app.config.
STREAM_LIFETIME_S = 3600.0
STREAM_POLL_S = 1.0
STREAM_KEEPALIVE_S = 15.0
STREAM_RETRY_MS = 2000
STREAM_BATCH = 100


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    read_only(session_scope.session())  # reads, and appends to the access log: no transaction needed
    args = query(NotificationsQuery())
    cursor = _cursor_from(principal, args.get("since"), "query/since")
    session = session_scope.session()
    kids = list_children(session, principal.subject, _now())
    read, cursor = read_notifications(session, [c.id for c in kids], cursor, limit=args["limit"])
    rows = deliverable(read, _without_consent(session, kids))
    names = {c.id: c.first_name for c in kids}
    body = [_notification_json(r, names) for r in rows]
    if rows:
        record_access(session, actor_role=principal.role, actor_id=principal.subject,
                      student_ids=[r.student_id for r in rows], action="notifications")
    return jsonify(items=body, cursor=cursor.encode(principal.subject), hasMore=len(read) == args["limit"])


def _without_consent(session: Any, kids: list[Child]) -> frozenset[uuid.UUID]:
    """Children whose vouchers hold no accepted consent: their offers are delivered, their meals are not (the
    rule the push worker follows too, wallet.parents.notifications)."""
    return withheld_children(session, [c.id for c in kids])


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
            hidden=_without_consent(session_scope.session(), kids), lifetime=lifetime,
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
            hidden = withheld_children(session, ids)
        rows = deliverable(read, hidden)
        if rows:
            record_access(session, actor_role=principal.role, actor_id=principal.subject,
                          student_ids=[r.student_id for r in rows], action="notifications", detail="stream")
    return read, after, rows, hidden
