"""The ledger's own evidence for staff: verification of a school's chain and its signed checkpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api import session_scope
from api.auth.idp import authenticate_staff
from api.schemas.common import query
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.verify import ChainReport, begin_snapshot, verify_chain
from wallet.models import Checkpoint
from wallet.scope import school_in_scope

blueprint = Blueprint("auditor_ledger", __name__, url_prefix="/api/v1/auditor/ledger")
STAFF = ("operator", "auditor", "school_admin", "supplier")


class SchoolQuery(Schema):
    school = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{12}$", error="a 12-digit BIN"))


def _report_json(report: ChainReport) -> dict[str, Any]:
    return {
        "schoolBin": report.school_bin, "ok": report.ok, "size": report.size, "rootHash": report.root.hex(),
        "chainHash": report.chain_hash.hex(), "checkpointsChecked": report.checkpoints_checked,
        "problems": [{"kind": p.kind, "message": p.message, "position": p.position, "entryId": p.entry_id,
                      "checkpointId": p.checkpoint_id, "treeSize": p.tree_size} for p in report.problems],
    }


@blueprint.get("/verify")
def verify() -> Response:
    """Recompute every hash of one school's chain and check its checkpoints' signatures."""
    principal = authenticate_staff(*STAFF)
    args = query(SchoolQuery())
    session = session_scope.session()
    begin_snapshot(session)  # head, entries and checkpoints read at one moment while appends go on
    school = school_in_scope(session, principal, args["school"])
    keys = public_keys_of(load_signing_key(current_app.config["WALLET_SETTINGS"]))
    return jsonify(_report_json(verify_chain(session, school.id, keys)))


@blueprint.get("/checkpoints")
def checkpoints() -> Response:
    """The signed checkpoints of one school's chain, newest first, as signed documents anyone can check."""
    principal = authenticate_staff(*STAFF)
    args = query(SchoolQuery())
    session = session_scope.session()
    school = school_in_scope(session, principal, args["school"])
    rows = session.scalars(
        select(Checkpoint).where(Checkpoint.school_id == school.id).order_by(Checkpoint.tree_size.desc()).limit(100)
    )
    return jsonify(items=[
        {"id": c.id, "treeSize": c.tree_size, "rootHash": c.root_hash.hex(), "chainHash": c.chain_hash.hex(),
         "issuedAt": c.issued_at.isoformat().replace("+00:00", "Z"), "keyId": c.key_id, "reason": c.reason,
         "body": c.body, "signature": c.signature} for c in rows
    ])
