"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from api import session_scope
from api.errors import problem
from wallet import migrate

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> Response:
    try:
        current = migrate.current_revision(session_scope.engine())
    except SQLAlchemyError:
        return problem(503, "not_ready", "The database cannot be reached.", headers={"Retry-After": "5"})
    head = migrate.head_revision()
    if current != head:
        return problem(503, "not_ready", f"Migrations are not at head (database {current}, code {head}).",
                       headers={"Retry-After": "30"})
    return jsonify(status="ready", database="ok", migration=current)
