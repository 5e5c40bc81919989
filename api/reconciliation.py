"""Monthly reconciliation for staff: figures, exports, suppliers' claims, period close and ledger proofs.

Scope comes from the token (wallet.reconciliation.scope): a region or school outside it, or an entry of a
school outside it, is a 404; a role that may not use a function at all gets 403. Views parse, call one
service and answer; services own their transactions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from marshmallow import Schema, fields, validate

from api import read_replica, session_scope
from api.auth.idp import authenticate_staff
from api.console.export_labels import xlsx_labels
from api.errors import ProblemError
from api.schemas.common import BIN_PATTERN, Bin, Month, Region, json_body, load, query
from wallet.disclosure import may_read_staff_subject, shown_actor
from wallet.keys import load_signing_key
from wallet.messages import T_
from wallet.models import Supplier
from wallet.months import parse_month, reportable_month
from wallet.principals import STAFF_ROLES, Principal
from wallet.reconciliation import claims as claim_service
from wallet.reconciliation.exports import entries_document, reconciliation_document
from wallet.reconciliation.periods import close_period, list_closed
from wallet.reconciliation.proofs import entry_proof, school_consistency
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import Scope, resolve_scope
from wallet.reconciliation.writers import CONTENT_TYPES, FORMATS, Document, write, write_json

blueprint = Blueprint("reconciliation", __name__, url_prefix="/api/v1/auditor")

_BIN = re.compile(BIN_PATTERN)
_MONTH = Month(required=True)


class ScopeQuery(Schema):
    month = _MONTH
    region = Region()
    school = Bin()


class ExportQuery(ScopeQuery):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))


class ClaimQuery(Schema):
    month = _MONTH
    supplier = Bin()


class MonthQuery(Schema):
    month = Month()
    region = Region()


class CloseBody(Schema):
    region = Region(required=True)
    month = _MONTH


class ProofQuery(Schema):
    tree_size = fields.Integer(data_key="treeSize", strict=False, validate=validate.Range(min=1, max=2**62))


class ConsistencyQuery(Schema):
    from_size = fields.Integer(data_key="from", required=True, validate=validate.Range(min=0, max=2**62))
    to_size = fields.Integer(data_key="to", required=True, validate=validate.Range(min=0, max=2**62))


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _scope(principal: Principal, args: dict[str, Any]) -> tuple[Scope, Any]:
    month = reportable_month(args["month"], field="query/month")
    session = read_replica.snapshot_session()  # every figure from one snapshot, on the replica if there is one
    scope = resolve_scope(session, principal, region=args.get("region"), school=args.get("school"))
    return scope, month


def _download(chunks: Iterator[bytes], fmt: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/reconciliations")
def get_reconciliation() -> Response:
    """The month's reconciliation for the caller's scope (narrowed by region or school), as JSON."""
    principal = authenticate_staff(*STAFF_ROLES)
    scope, month = _scope(principal, query(ScopeQuery()))
    document = reconciliation_document(reconcile(read_replica.snapshot_session(), scope, month))
    return Response(b"".join(write_json(document)), content_type="application/json")


@blueprint.get("/reconciliations/export")
def export_reconciliation() -> Response:
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(ExportQuery())
    scope, month = _scope(principal, args)
    document = reconciliation_document(reconcile(read_replica.snapshot_session(), scope, month))
    return _download(write(document, args["format"], labels=xlsx_labels()), args["format"],
                     f"reconciliation-{scope.slug}-{month}.{args['format']}")


@blueprint.get("/entries/export")
def export_entries() -> Response:
    """Entries are read while the file is sent, in a session of the stream's own: the request's session
    ends when the view returns (scope errors are found before that, so they still get a problem answer)."""
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(ExportQuery())
    scope, month = _scope(principal, args)
    factory = read_replica.stream_factory()
    fmt, labels = args["format"], xlsx_labels()

    def chunks() -> Iterator[bytes]:
        with factory() as session:
            read_replica.begin(session)
            document: Document = entries_document(session, scope, month)
            yield from write(document, fmt, labels=labels)

    return _download(chunks(), fmt, f"entries-{scope.slug}-{month}.{fmt}")


def _actor(actor: str | None, reader: Principal) -> str | None:
    """A staff actor as this reader may see it (wallet.disclosure: the subject to operators and auditors only)."""
    return shown_actor(actor, show_subject=may_read_staff_subject(reader.role))


def _claim_json(claim: Any, supplier_bin: str, reader: Principal) -> dict[str, Any]:
    return {"claimId": claim.id, "supplierBin": supplier_bin, "month": claim.month, "version": claim.version,
            "submittedAt": _iso(claim.submitted_at), "submittedBy": _actor(claim.submitted_by, reader),
            "sourceFormat": claim.source_format, "fileSha256": claim.file_sha256, "lines": claim.line_count,
            "totalMeals": claim.total_meals, "totalAmountTiyn": claim.total_amount_tiyn}


@blueprint.post("/claims")
def submit_claim() -> tuple[Response, int]:
    """A supplier's monthly claim as CSV (text/csv) or JSON; refused whole, with every bad line, or stored."""
    principal = authenticate_staff("supplier", "operator")
    args = query(ClaimQuery())
    month = parse_month(args["month"], field="query/month")
    raw = request.get_data(cache=True)
    mimetype = request.mimetype
    if mimetype == "text/csv":
        rows = claim_service.parse_csv(raw)
        source = "csv"
    elif request.is_json:
        document = json_body()
        rows, stated = claim_service.parse_json(document)
        if "month" in stated and stated["month"] != str(month):
            raise ProblemError(422, "validation_failed", T_("the body's month differs from the query's month"))
        if "supplierBin" in stated:
            args.setdefault("supplier", stated["supplierBin"])
            if stated["supplierBin"] != args["supplier"]:
                raise ProblemError(422, "validation_failed", T_("the body's supplierBin differs from the query's"))
        source = "json"
    else:
        raise ProblemError(415, "unsupported_media_type", T_("Send the claim as text/csv or application/json."))
    session = session_scope.session()
    claim = claim_service.submit_claim(session, principal, month, rows, source_format=source, raw=raw,
                                       supplier_bin=args.get("supplier"))
    supplier = session.get(Supplier, claim.supplier_id)
    assert supplier is not None
    return jsonify(_claim_json(claim, supplier.bin, principal)), 201


@blueprint.get("/claims")
def list_claims() -> Response:
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(ClaimQuery())
    month = parse_month(args["month"], field="query/month")
    items = claim_service.list_claims(session_scope.session(), principal, month)
    return jsonify(items=[_claim_json(claim, supplier_bin, principal) for claim, supplier_bin in items])


def _period_json(info: Any, reader: Principal) -> dict[str, Any]:
    return {"region": info.region_code, "month": info.month, "closedAt": _iso(info.closed_at),
            "closedBy": _actor(info.closed_by, reader)}


@blueprint.post("/periods")
def close_month() -> tuple[Response, int]:
    """Close a month for a region (operators): every school chain of the region is signed at this moment."""
    principal = authenticate_staff(*STAFF_ROLES)
    if principal.role != "operator":
        raise ProblemError(403, "forbidden", T_("Only operators close periods."))
    data = load(CloseBody(), json_body())
    month = parse_month(data["month"], field="month")
    key = load_signing_key(current_app.config["WALLET_SETTINGS"])
    closed = close_period(session_scope.session(), principal, data["region"], month, key)
    return jsonify(
        **_period_json(closed, principal), schools=len(closed.checkpoints),
        checkpoints=[{"schoolBin": school_bin, "checkpointId": c.id, "treeSize": c.tree_size,
                      "rootHash": bytes(c.root_hash).hex(), "chainHash": bytes(c.chain_hash).hex(),
                      "signature": c.signature, "keyId": c.key_id, "body": c.body}
                     for school_bin, c in closed.checkpoints],
    ), 201


@blueprint.get("/periods")
def closed_months() -> Response:
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(MonthQuery())
    month = parse_month(args["month"], field="query/month") if "month" in args else None
    items = list_closed(session_scope.session(), principal, region_code=args.get("region"), month=month)
    return jsonify(items=[{**_period_json(i, principal), "schools": i.schools} for i in items])


@blueprint.get("/entries/<int:entry_id>/proof")
def proof(entry_id: int) -> Response:
    """An entry's payload, its inclusion proof and the signed checkpoint: checkable offline with the
    service's public key (`wallet verify-proof FILE`)."""
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(ProofQuery())
    key = load_signing_key(current_app.config["WALLET_SETTINGS"])
    document = entry_proof(session_scope.session(), principal, entry_id, key, tree_size=args.get("tree_size"))
    return Response(json.dumps(document, ensure_ascii=False), content_type="application/json")


@blueprint.get("/schools/<school_bin>/consistency")
def consistency(school_bin: str) -> Response:
    """The consistency proof between two signed checkpoints (tree sizes `from` <= `to`) of a school."""
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(ConsistencyQuery())
    if not _BIN.fullmatch(school_bin):
        raise ProblemError(404, "school_not_found", T_("no school %(school_bin)s in your scope", school_bin=school_bin))
    document = school_consistency(session_scope.session(), principal, school_bin, args["from_size"],
                                  args["to_size"])
    return Response(json.dumps(document, ensure_ascii=False), content_type="application/json")
