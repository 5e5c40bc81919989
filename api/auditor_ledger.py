"""The ledger's own evidence for staff: verification of a school's chain, its signed checkpoints, and the
record of verification runs (whoever ran them: `wallet verify`, this API or the console)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from api import session_scope
from api.auth.idp import authenticate_staff
from api.schemas.common import Bin, Text, query
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.run_history import RunView, list_runs
from wallet.ledger.runs import recorded_run
from wallet.ledger.verify import ChainReport, begin_snapshot, verify_chain
from wallet.models import Checkpoint
from wallet.parents import cursors
from wallet.scope import school_in_scope

blueprint = Blueprint("auditor_ledger", __name__, url_prefix="/api/v1/auditor/ledger")
STAFF = ("operator", "auditor", "school_admin", "supplier")
RUN_READERS = ("operator", "auditor")
MAX_RUNS = 200


class SchoolQuery(Schema):
    school = Bin(required=True)


class RunsQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    school = Bin()
    cursor = Text(max_length=cursors.MAX_CURSOR_LENGTH)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_RUNS))


def _utc(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def _run_json(run: RunView) -> dict[str, Any]:
    problem = run.problem
    return {
        "id": run.id, "startedAt": _utc(run.started_at), "finishedAt": _utc(run.finished_at), "via": run.via,
        "actor": run.actor, "schoolBin": run.school_bin, "chainsChecked": run.chains_checked,
        "entriesChecked": run.entries_checked, "checkpointsChecked": run.checkpoints_checked,
        "chainsFailed": run.chains_failed, "result": run.result, "softwareVersion": run.software_version,
        "firstProblem": None if problem is None else (
            {"hidden": True} if problem.hidden else
            {"hidden": False, "schoolBin": problem.school_bin, "kind": problem.kind,
             "position": problem.position, "entryId": problem.entry_id, "message": problem.message}),
    }


def _report_json(report: ChainReport, run_id: int | None) -> dict[str, Any]:
    return {"runId": run_id,
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
    with recorded_run(session_scope.factory(), via="api", actor=principal.actor, school_bin=school.bin) as tally:
        try:
            report = verify_chain(session, school.id, keys)
        finally:
            # End the read-only snapshot (on SQLite, the lock) before the run is written in its own transaction.
            session.rollback()
        tally.add(report)
    return jsonify(_report_json(report, tally.run_id))


@blueprint.get("/verifications")
def verifications() -> Response:
    """Verification runs in the caller's scope, newest first: a school's own runs and national runs."""
    principal = authenticate_staff(*RUN_READERS)
    args = query(RunsQuery())
    session = session_scope.session()
    school_id = school_in_scope(session, principal, args["school"]).id if "school" in args else None
    # A cursor is bound to who asked and for which school, so it cannot be replayed into another listing.
    binding = f"{principal.role}|{principal.region_code}|{args.get('school')}"
    before = None
    if "cursor" in args:
        values = cursors.decode("verifications", binding, args["cursor"])
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 1:
            raise cursors.invalid()
        before = values[0]
    runs = list_runs(session, principal, school_id=school_id, before_id=before, limit=args["limit"] + 1)
    more = len(runs) > args["limit"]
    runs = runs[: args["limit"]]
    return jsonify(items=[_run_json(run) for run in runs],
                   nextCursor=cursors.encode("verifications", binding, [runs[-1].id]) if more else None)


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
