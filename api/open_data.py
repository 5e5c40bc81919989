"""Open data, public and unauthenticated: the national log's newest head as a C2SP checkpoint note with its
cosignatures (for transparency-log tools), and a school's daily counts for a month (JSON or CSV), small
counts suppressed, tied to the witnessed checkpoint they were computed from (wallet.witnessing.open_data)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app
from marshmallow import Schema, fields, validate

from api import session_scope
from api.schemas.common import BIN_PATTERN, Month, query
from wallet.errors import FieldError, InvalidInput, NotFound
from wallet.keys import load_signing_key
from wallet.ledger.verify import begin_snapshot
from wallet.messages import T_
from wallet.months import reportable_month
from wallet.reconciliation.writers import CONTENT_TYPES, write
from wallet.witnessing.collect import cosignatures_of
from wallet.witnessing.national import latest_head, school_checkpoint_note
from wallet.witnessing.open_data import daily_counts

blueprint = Blueprint("open_data", __name__, url_prefix="/api/v1/open")


class CountsQuery(Schema):
    month = Month(required=True)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


@blueprint.get("/checkpoint")
def national_checkpoint() -> Response:
    """The newest national head: origin, size, base64 root, the operator's signature and the cosignatures."""
    session = session_scope.session()
    head = latest_head(session)
    if head is None:
        raise NotFound("no_checkpoint", T_("the national log has no signed head yet"))
    text = head.note + "".join(c.line for c in cosignatures_of(session, head))
    response = Response(text, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/schools/<school_bin>/checkpoint")
def school_checkpoint(school_bin: str) -> Response:
    """The school's newest signed checkpoint as a C2SP checkpoint note (origin `<log>/school/<BIN>`): the
    very text the national log holds as the school's leaf, signed with the operator's key under that origin."""
    if not re.fullmatch(BIN_PATTERN, school_bin):
        raise InvalidInput("validation_failed", T_("a BIN is 12 digits"),
                           [FieldError("path/schoolBin", T_("12 digits"))])
    settings = current_app.config["WALLET_SETTINGS"]
    note = school_checkpoint_note(session_scope.session(), load_signing_key(settings),
                                  settings.witness_policy.log_origin, school_bin)
    response = Response(note, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/schools/<school_bin>/daily-counts")
def school_daily_counts(school_bin: str) -> Response:
    args = query(CountsQuery())
    if not re.fullmatch(BIN_PATTERN, school_bin):
        raise InvalidInput("validation_failed", T_("a BIN is 12 digits"),
                           [FieldError("path/schoolBin", T_("12 digits"))])
    month = reportable_month(args["month"], field="query/month")
    session = session_scope.session()
    begin_snapshot(session)  # every count from one snapshot
    document = daily_counts(session, current_app.config["WALLET_SETTINGS"].witness_policy, school_bin, month)
    fmt = args["format"]
    response = Response(b"".join(write(document, fmt)), content_type=CONTENT_TYPES[fmt])
    if fmt == "csv":
        response.headers["Content-Disposition"] = f'attachment; filename="daily-counts-{school_bin}-{month}.csv"'
    response.headers["Cache-Control"] = "no-store"  # the house rule for every answer (SECURITY.md)
    return response
