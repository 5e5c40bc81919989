"""Who is signed in to the console, and the per-session CSRF token.

A sign-in is a row on the server (wallet.console_sessions): the identity checked at sign-in (role, subject
and scope claims, never the token itself) and when it ends (the earlier of the console's session lifetime
and the token's own `exp`). Flask's signed cookie (HttpOnly, SameSite=Strict, Path=/console, Secure in
production) carries only the row's random id, the CSRF token and the chosen language: nothing personal.
Signing out deletes the row, so a copied cookie stops working at once; a row past its end finds nobody and
the user is sent back to sign in.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app, g, request, session

from api import session_scope
from wallet.console_sessions import end_session, find_session, open_session
from wallet.principals import Principal

CSRF_FIELD = "csrf_token"
# Form fields a console form may ask to keep when the session has ended before it was sent (the parent's
# feedback draft); they come back as draft_* query parameters of the page that holds the form.
DRAFT_FIELDS = ("child", "entry", "rating", "comment", "tags")


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf")
    return isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sign_in(claims: dict[str, Any], principal: Principal) -> None:
    """Start a fresh session for this identity (a new id, cookie and CSRF token: no session fixation)."""
    lang = session.get("lang")
    previous = session.get("sid")
    session.clear()
    if lang:
        session["lang"] = lang
    now = _now()
    until = now + dt.timedelta(seconds=int(current_app.config["WALLET_SETTINGS"].console_session_s))
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp < until.timestamp():
        until = dt.datetime.fromtimestamp(float(exp), dt.UTC)
    _release_request_transaction()
    with session_scope.factory()() as db:
        if isinstance(previous, str):
            end_session(db, previous)
        session["sid"] = open_session(db, principal, until, now)
    session.permanent = True
    g.pop("console_principal", None)
    csrf_token()


def sign_out() -> None:
    """End the sign-in on the server (a copy of the cookie is worth nothing after this) and in the cookie."""
    lang, sid = session.get("lang"), session.get("sid")
    if isinstance(sid, str):
        _release_request_transaction()
        with session_scope.factory()() as db:
            end_session(db, sid)
    session.clear()
    if lang:
        session["lang"] = lang
    g.pop("console_principal", None)


def current_principal() -> Principal | None:
    """The signed-in identity, or None (never signed in, signed out, or the sign-in has ended: then the
    cookie's id is dropped)."""
    if "console_principal" in g:
        return g.console_principal  # type: ignore[no-any-return]
    sid = session.get("sid")
    principal = None
    g.console_principal = None  # also the answer if the lookup fails (the error page asks again)
    if isinstance(sid, str):
        # A database session of its own, so the lookup commits (deleting an expired row) whatever the request
        # does; the console's gate asks before the view opens the request's transaction.
        _release_request_transaction()
        with session_scope.factory()() as db:
            principal = find_session(db, sid, _now())
        if principal is None:
            session.pop("sid", None)
            g.console_expired = True
    g.console_principal = principal
    return principal


def _release_request_transaction() -> None:
    """End the request session's transaction before a session of our own writes: on SQLite every
    transaction holds the write lock (BEGIN IMMEDIATE), so the two would wait on each other. Views never
    commit, and what they read is read again when needed."""
    request_session = g.get("db_session")
    if request_session is not None:
        request_session.rollback()


def expired() -> bool:
    current_principal()
    return bool(g.get("console_expired"))


def safe_next(target: str | None) -> str | None:
    """A return address inside the console only (no open redirect to another site)."""
    if not target or len(target) > 4000 or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or target.startswith("//"):
        return None
    return target


def return_with_draft() -> str | None:
    """Where a POST that found no session should lead after sign-in: the page of its form, with the draft."""
    back = safe_next(request.form.get("return_to"))
    if back is None:
        return None
    draft = [(f"draft_{name}", value) for name in DRAFT_FIELDS for value in request.form.getlist(name)[:20]
             if value and len(value) <= 2000]
    if not draft:
        return back
    return f"{back}{'&' if '?' in back else '?'}{urlencode(draft)}"
