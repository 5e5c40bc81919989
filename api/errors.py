"""The one place where every error becomes an RFC 9457 application/problem+json response."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from api.i18n import title
from wallet.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound

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
        "title": title(code),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


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
        # A lost or restarting database is temporary: tell clients to come back, never leak SQL.
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            return problem(503, "database_unavailable", "The database is unavailable; retry later.",
                           headers={"Retry-After": "5"})
        log.exception("database error")
        return problem(500, "internal_error", "An internal error occurred; it has been logged.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", "An internal error occurred; it has been logged.")






