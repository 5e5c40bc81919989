"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
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
    return jsonify(status="ready", database="ok", migration=current, witnesses=_witnessing())


def _witnessing() -> dict:
    """Whether the national log's newest head is witnessed: a detail, never a reason to be unready (ingest
    must go on while witnesses are down)."""
    from wallet.witnessing.status import witness_status

    policy = current_app.config["WALLET_SETTINGS"].witness_policy
    return witness_status(session_scope.session(), policy).as_dict()
