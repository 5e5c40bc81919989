"""Operator functions: terminals (register, revoke, list, sequence gaps) and voids."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import Schema

from api import session_scope
from api.auth.idp import authenticate_staff
from api.schemas.common import Bin, Text, json_body, load
from wallet import terminals
from wallet.ledger.voids import MAX_REASON, void_entry
from wallet.models import LedgerEntry, Terminal
from wallet.terminal_backlog import backlog_of

blueprint = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


class TerminalCreateSchema(Schema):
    school_bin = Bin(required=True, data_key="schoolBin")
    public_key = Text(required=True, data_key="publicKey", min_length=40, max_length=64)
    terminal_id = Text(data_key="terminalId", min_length=3, max_length=64, pattern=terminals.TERMINAL_ID.pattern,
                       pattern_error="3-64 letters, digits, '.', '_' or '-', beginning with a letter or digit")
    label = Text(min_length=0, max_length=100)


class VoidSchema(Schema):
    reason = Text(required=True, max_length=MAX_REASON, prose=True)


def terminal_json(terminal: Terminal, school_bin: str) -> dict[str, Any]:
    def iso(value):  # type: ignore[no-untyped-def]
        return value.isoformat().replace("+00:00", "Z") if value else None

    settings = current_app.config["WALLET_SETTINGS"]
    backlog = backlog_of(terminal, settings.now(), dt.timedelta(seconds=settings.terminal_backlog_alert_s))
    return {"terminalId": terminal.id, "schoolBin": school_bin, "publicKey": terminal.public_key,
            "status": terminal.status, "label": terminal.label, "createdAt": iso(terminal.created_at),
            "revokedAt": iso(terminal.revoked_at), "lastContactAt": iso(terminal.last_contact_at),
            "clockOffsetMs": terminal.clock_offset_ms,
            "backlog": {"queued": backlog.queued, "oldestServedAt": iso(backlog.oldest_served_at),
                        "ageS": backlog.age_s, "silentS": backlog.silent_s, "flagged": backlog.flagged,
                        "alertAfterS": settings.terminal_backlog_alert_s}}


@blueprint.get("/terminals")
def list_terminals() -> Response:
    authenticate_staff("operator")
    items = terminals.list_terminals(session_scope.session())
    return jsonify(items=[terminal_json(t, b) for t, b in items])


@blueprint.post("/terminals")
def create_terminal() -> tuple[Response, int]:
    authenticate_staff("operator")
    data = load(TerminalCreateSchema(), json_body())
    session = session_scope.session()
    terminal = terminals.register_terminal(session, school_bin=data["school_bin"], public_key=data["public_key"],
                                           terminal_id=data.get("terminal_id"), label=data.get("label"))
    return jsonify(terminal_json(terminal, data["school_bin"])), 201


@blueprint.post("/terminals/<terminal_id>/revoke")
def revoke_terminal(terminal_id: str) -> Response:
    authenticate_staff("operator")
    session = session_scope.session()
    terminal = terminals.revoke_terminal(session, terminal_id)
    school_bin = dict((t.id, b) for t, b in terminals.list_terminals(session))[terminal.id]
    return jsonify(terminal_json(terminal, school_bin))


@blueprint.get("/terminals/<terminal_id>/gaps")
def terminal_gaps(terminal_id: str) -> Response:
    authenticate_staff("operator")
    session = session_scope.session()
    terminals.get_terminal(session, terminal_id)
    highest, gaps = terminals.sequence_gaps(session, terminal_id)
    return jsonify(terminalId=terminal_id, highestSeq=highest,
                   missing=sum(b - a + 1 for a, b in gaps),
                   gaps=[{"from": a, "to": b} for a, b in gaps])


@blueprint.post("/entries/<int:entry_id>/void")
def void(entry_id: int) -> tuple[Response, int]:
    principal = authenticate_staff("operator", "school_admin")
    data = load(VoidSchema(), json_body())
    entry: LedgerEntry = void_entry(session_scope.session(), entry_id, principal, data["reason"])
    return jsonify(entryId=entry.id, refersTo=entry.refers_to, position=entry.position,
                   leafHash=entry.leaf_hash.hex(), priceTiyn=entry.price_tiyn), 201
