"""The one place where every error becomes an RFC 9457 application/problem+json response."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from api.i18n import language, title, translate
from api.request_id import current_request_id
from wallet.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound
from wallet.messages import N_, T_

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_STATUS_OF_DOMAIN_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 422, NotFound: 404, Conflict: 409, Forbidden: 403,
}
_CODE_OF_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_failed", 429: "rate_limited", 500: "internal_error", 503: "not_ready",
}


# Titles of the codes this module and api/security.py, api/ratelimit.py answer with (api/i18n.py has the rest).
_TITLES: dict[str, str] = {
    "rate_limited": N_("Too many requests"),
    "storage_unavailable": N_("Storage unavailable"),
}

# Database errors that mean "nothing can be written now" (a full disk, a read-only file or server): the
# operator must act; clients keep their data and retry. SQLite by error name, PostgreSQL by SQLSTATE.
_SQLITE_STORAGE_ERRORS = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR")
_POSTGRES_STORAGE_STATES = {"53100": "disk full", "53000": "insufficient resources",
                            "25006": "read-only transaction", "58030": "I/O error"}


def _problem_title(code: str) -> str:
    text = _TITLES.get(code)
    return translate(text, language()) if text else title(code)


def _in_language(text: str) -> str:
    """A detail or field message in the reader's language: a marked sentence (wallet/messages.py) with its
    values, or a library's fixed text the catalogs know (marshmallow's, api/schemas/common.py); any other as
    it is."""
    return translate(text, language())


def storage_failure(exc: DBAPIError) -> str | None:
    """What is wrong with the database's storage (one line for the operator's log), or None."""
    orig = exc.orig
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith(_SQLITE_STORAGE_ERRORS):
        return f"SQLite {name}: {str(orig).strip()}"
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state in _POSTGRES_STORAGE_STATES:
        return f"PostgreSQL {state} ({_POSTGRES_STORAGE_STATES[state]})"
    return None


class ProblemError(Exception):
    """Raised by views and request checks to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status, self.code, self.detail = status, code, detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


def problem(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:social-wallet:problem:{code}",
        "title": _problem_title(code),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = _in_language(detail)
    body["instance"] = request.path
    if errors:
        body["errors"] = [{**e.as_dict(), "message": _in_language(e.message)} for e in errors]
    body.update(extra or {})
    body["requestId"] = current_request_id()  # the X-Request-Id of the response, to quote to the operator
    try:
        response = jsonify(body)
    except UnicodeEncodeError:  # a client's string echoed in an error (a field name) that is not Unicode
        response = jsonify(_printable(body))
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _printable(value: Any) -> Any:
    """The value with every string made encodable (a lone surrogate becomes its escape, as text)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def init_app(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError) -> Response:
        return problem(exc.status, exc.code, exc.detail, errors=exc.errors, headers=exc.headers, extra=exc.extra)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        status = next((s for kind, s in _STATUS_OF_DOMAIN_ERROR.items() if isinstance(exc, kind)), 422)
        return problem(status, exc.code, exc.message, errors=exc.field_errors)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = dict(exc.get_headers()) if status == 405 else {}
        headers.pop("Content-Type", None)
        return problem(status, _CODE_OF_STATUS.get(status, "http_error"), exc.description, headers=headers)

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError) -> Response:
        # A full or read-only disk: nothing was stored, say so clearly; the operator gets one line to act on.
        failure = storage_failure(exc)
        if failure is not None:
            log.error("database cannot store data (disk full or read-only?): %s", failure)
            return problem(503, "storage_unavailable",
                           T_("The service cannot store data now; nothing from this request was recorded. "
                              "Retry later."), headers={"Retry-After": "30"})
        # A lost or restarting database is temporary: tell clients to come back, never leak SQL.
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            return problem(503, "database_unavailable", T_("The database is unavailable; retry later."),
                           headers={"Retry-After": "5"})
        log.exception("database error")
        return problem(500, "internal_error", T_("An internal error occurred; it has been logged."))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", T_("An internal error occurred; it has been logged."))






