"""The console's blueprint and what applies to every page: who may open it, CSRF on every POST, friendly HTML
error pages (never a stack trace, never problem+json), and headers that let the console's own assets run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from api.console import formats, scope_names, texts
from api.console.session import (
    CSRF_FIELD,
    csrf_ok,
    csrf_token,
    current_principal,
    expired,
    return_with_draft,
)
from api.errors import ProblemError
from wallet import code_names
from wallet.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from wallet.principals import STAFF_ROLES, Principal

log = logging.getLogger(__name__)

blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                      static_folder="static", static_url_path="/static")

# The console's own assets run; nothing else loads, nothing frames it, forms post only to it.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STAFF = STAFF_ROLES
PARENTS = ("parent",)

F = TypeVar("F", bound=Callable[..., Any])
# endpoint -> roles that may open it; endpoints not listed are open (sign-in, static, errors).
REQUIRED: dict[str, tuple[str, ...]] = {}


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


def requires(*roles: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        REQUIRED[f"console.{view.__name__}"] = roles
        return view
    return mark


def principal() -> Principal:
    found = current_principal()
    assert found is not None, "a view marked with @requires runs only when someone is signed in"
    return found


def sign_in_url(next_url: str | None, reason: str | None = None) -> str:
    args = {k: v for k, v in (("next", next_url), ("reason", reason)) if v}
    return f"{url_for('console.sign_in')}{'?' + urlencode(args) if args else ''}"


@blueprint.before_request
def _gate() -> Response | None:
    if request.endpoint == "console.static":
        return None  # assets need no session
    csrf_token()  # every session has one before its first form
    current_principal()  # the sign-in is looked up (server side) before the view opens its transaction
    roles = REQUIRED.get(request.endpoint or "")
    if roles is not None:
        who = current_principal()
        if who is None:
            reason = "expired" if expired() else None
            if request.method == "POST":
                return redirect(sign_in_url(return_with_draft(), "expired"), 303)
            return redirect(sign_in_url(request.full_path.rstrip("?"), reason), 303)
        if who.role not in roles:
            return error_page(403, "error_403")
    if request.method == "POST" and request.endpoint != "console.not_found" and not csrf_ok():
        raise CsrfRefused()
    return None


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Content-Language"] = texts.language()
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    if request.endpoint == "console.static":
        response.headers["Cache-Control"] = "no-cache"  # not personal: may be kept, but checked each time
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.app_template_global()
def t(key: str) -> str:
    return texts.t(key)


@blueprint.record_once
def _filters(state: Any) -> None:
    """number, money, when and day (api/console/formats.py) for every console template."""
    state.app.jinja_env.filters.update(formats.FILTERS)
    state.app.jinja_env.globals["percent"] = formats.percent
    state.app.jinja_env.filters["t"] = texts.t  # a list of data codes shown by name: codes|map("t")


@blueprint.context_processor
def _context() -> dict[str, Any]:
    return {"lang": texts.language(), "languages": texts.LANGUAGE_NAMES, "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token, "who": current_principal(), "school_name": texts.school_name,
            "dish_name": texts.dish_name, "known": texts.known, "day_kind": code_names.day_kind,
            "scope_names": scope_names, "staff_roles": STAFF}


def error_page(status: int, message_key: str, detail: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    body = render_template("console/error.html", status=status, message=texts.t(message_key), detail=detail)
    return Response(body, status=status, mimetype="text/html", headers=headers)


_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "error_404"), (Forbidden, 403, "error_403"), (InvalidInput, 400, "error_400"),
    (Conflict, 409, "error_400"),
]


@blueprint.errorhandler(CsrfRefused)
def _csrf(_exc: CsrfRefused) -> Response:
    return error_page(400, "error_csrf")


@blueprint.errorhandler(DomainError)
def _domain(exc: DomainError) -> Response:
    status, key = next(((s, k) for kind, s, k in _DOMAIN_STATUS if isinstance(exc, kind)), (400, "error_400"))
    return error_page(status, key, texts.sentence(exc.message) if status != 404 else None)


@blueprint.errorhandler(ProblemError)
def _problem(exc: ProblemError) -> Response:
    key = {403: "error_403", 404: "error_404"}.get(exc.status, "error_400" if exc.status < 500 else "error_500")
    kept = {k: v for k, v in exc.headers.items() if k in ("Retry-After",)}  # e.g. a rate limit's 429
    detail = texts.sentence(exc.detail) if exc.detail and exc.status < 500 and exc.status != 404 else None
    return error_page(exc.status, key, detail, kept)


@blueprint.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    key = {403: "error_403", 404: "error_404"}.get(status, "error_400" if status < 500 else "error_500")
    return error_page(status, key)


@blueprint.errorhandler(DBAPIError)
def _database(_exc: DBAPIError) -> Response:
    log.warning("console: database error", exc_info=True)
    return error_page(503, "error_503")


@blueprint.errorhandler(Exception)
def _unexpected(_exc: Exception) -> Response:
    log.exception("console: unhandled error")
    g.pop("console_principal", None)
    return error_page(500, "error_500")


def set_language(lang: str) -> None:
    if lang in texts.LANGUAGES:
        session["lang"] = lang
