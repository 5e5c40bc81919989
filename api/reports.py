"""Reports a supplier is paid on: the monthly meal sheet of a school and the payment registry of a closed
month. Scope as for the reconciliation (wallet.reconciliation.scope): a school or region outside the
caller's scope is a 404; a role that may not use a function at all gets 403. Views parse, call one service
and answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, stream_with_context
from marshmallow import Schema, fields, validate

from api import read_replica
from api.auth.idp import authenticate_staff
from api.console.export_labels import xlsx_labels
from api.schemas.common import Bin, Month, Region, Text, query
from wallet.months import reportable_month
from wallet.principals import STAFF_ROLES, Principal
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import CONTENT_TYPES, FORMATS, write, write_json
from wallet.reports.meal_sheet import CLASS_NAME_MAX, meal_sheet, parse_class_name, sheet_document, sheet_filename
from wallet.reports.payments import PaymentRegistry, payment_registry, registry_document, registry_filename

blueprint = Blueprint("reports", __name__, url_prefix="/api/v1/auditor")

class SheetQuery(Schema):
    month = Month(required=True)
    school = Bin()
    class_name = Text(data_key="class", max_length=CLASS_NAME_MAX)


class SheetExportQuery(SheetQuery):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))


def _download(chunks: Iterator[bytes], fmt: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _sheet(principal: Principal, args: dict[str, Any]) -> Any:
    month = reportable_month(args["month"], field="query/month")
    class_name = parse_class_name(args.get("class_name"), "query/class")
    session = read_replica.snapshot_session()  # every figure from one snapshot, on the replica if there is one
    scope = resolve_scope(session, principal, school=args.get("school"))
    return meal_sheet(session, scope, month, class_name)


@blueprint.get("/meal-sheets")
def get_meal_sheet() -> Response:
    """A school's monthly meal sheet as JSON (exactly the JSON export)."""
    principal = authenticate_staff(*STAFF_ROLES)  # before anything else is read from the request
    sheet = _sheet(principal, query(SheetQuery()))
    return Response(b"".join(write_json(sheet_document(sheet))), content_type="application/json")


@blueprint.get("/meal-sheets/export")
def export_meal_sheet() -> Response:
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(SheetExportQuery())
    sheet = _sheet(principal, args)
    return _download(write(sheet_document(sheet), args["format"], labels=xlsx_labels()), args["format"],
                     sheet_filename(sheet, args["format"]))


class RegistryQuery(Schema):
    month = Month(required=True)
    region = Region()


class RegistryExportQuery(RegistryQuery):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))


# School administrators do not pay suppliers: the registry is for operators, auditors and suppliers.
REGISTRY_ROLES = ("operator", "auditor", "supplier")


def _registry(principal: Principal, args: dict[str, Any]) -> PaymentRegistry:
    month = reportable_month(args["month"], field="query/month")
    session = read_replica.snapshot_session()
    scope = resolve_scope(session, principal, region=args.get("region"))
    return payment_registry(session, scope, month,
                            witnesses=current_app.config["WALLET_SETTINGS"].witness_policy)


@blueprint.get("/payment-registry")
def get_payment_registry() -> Response:
    """What each supplier is due for a closed month, per contract and school (exactly the JSON export)."""
    principal = authenticate_staff(*REGISTRY_ROLES)
    registry = _registry(principal, query(RegistryQuery()))
    return Response(b"".join(write_json(registry_document(registry))), content_type="application/json")


@blueprint.get("/payment-registry/export")
def export_payment_registry() -> Response:
    principal = authenticate_staff(*REGISTRY_ROLES)
    args = query(RegistryExportQuery())
    registry = _registry(principal, args)
    return _download(write(registry_document(registry), args["format"], labels=xlsx_labels()), args["format"],
                     registry_filename(registry, args["format"]))
