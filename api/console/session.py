"""Who is signed in to the console, and the per-session CSRF token.

The session is Flask's signed cookie (HttpOnly, SameSite=Strict, Path=/console, Secure in production). It
holds the identity checked at sign-in (role, subject and scope claims, never the token itself), when the
sign-in ends (the earlier of the console's session lifetime and the token's own `exp`), the CSRF token and
the chosen language. An identity past its end is dropped and the user is sent back to sign in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app, g, request, session

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


def sign_in(claims: dict[str, Any], principal: Principal) -> None:
    """Start a fresh session for this identity (a new cookie and CSRF token: no session fixation)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    lifetime = int(current_app.config["WALLET_SETTINGS"].console_session_s)
    until = time.time() + lifetime
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        until = min(until, float(exp))
    session["who"] = {"role": principal.role, "sub": principal.subject, "school": principal.school_bin,
                      "region": principal.region_code, "supplier": principal.supplier_bin}
    session["until"] = int(until)
    session.permanent = True
    csrf_token()


def sign_out() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def current_principal() -> Principal | None:
    """The signed-in identity, or None (never signed in, or the session has ended: then it is dropped)."""
    if "console_principal" in g:
        return g.console_principal  # type: ignore[no-any-return]
    who, until = session.get("who"), session.get("until")
    principal = None
    if isinstance(who, dict) and isinstance(until, int):
        if until > time.time():
            principal = Principal(subject=str(who.get("sub")), role=str(who.get("role")),
                                  school_bin=who.get("school"), region_code=who.get("region"),
                                  supplier_bin=who.get("supplier"))
        else:
            session.pop("who", None)
            session.pop("until", None)
            g.console_expired = True
    g.console_principal = principal
    return principal


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
