"""Endpoints for canteen terminals: the day's roster and batches of meal events."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api import metrics, session_scope
from api.auth.terminal import authenticate_terminal, spend_token_id_again
from api.errors import ProblemError
from api.qr import qr_keyring, roster_keys
from api.schemas.common import Text, field_errors, json_body, load
from api.schemas.terminal import BatchEnvelopeSchema, MealEventSchema
from api.schemas.terminal_fast import well_formed_event
from wallet.config import Settings
from wallet.errors import FieldError
from wallet.ingest import ALLERGEN_WARNING_CONFIRMED, Batch, EventOutcome, MealEvent, record_batch
from wallet.ingest.rules import served_at_problem
from wallet.messages import T_
from wallet.models import School, Terminal
from wallet.qr import QrKeyring, QrTokenError, decode_token
from wallet.roster import build_roster, local_today
from wallet.roster_allergies import roster_allergies
from wallet.roster_week import build_week
from wallet.terminals import enroll_with_code

blueprint = Blueprint("terminals", __name__, url_prefix="/api/v1/terminal")
_event_schema = MealEventSchema()
_envelope_schema = BatchEnvelopeSchema()


def _settings() -> Settings:
    return current_app.config["WALLET_SETTINGS"]


class EnrollSchema(Schema):
    code = Text(required=True, min_length=4, max_length=32)
    public_key = Text(required=True, data_key="publicKey", min_length=40, max_length=64)
    label = Text(min_length=0, max_length=100)


@blueprint.post("/enroll")
def enroll() -> tuple[Response, int]:
    """A new terminal registers its own public key with a one-time code (no token yet: the code is the proof)."""
    data = load(EnrollSchema(), json_body())
    terminal, school_bin = enroll_with_code(session_scope.session(), data["code"], data["public_key"],
                                            data.get("label"))
    return jsonify(terminalId=terminal.id, schoolBin=school_bin, audience=_settings().service_audience,
                   maxBatchEvents=_settings().max_batch_events,
                   tokenMaxLifetimeS=_settings().terminal_token_max_lifetime_s), 201


@blueprint.get("/roster")
def roster() -> Response:
    terminal = authenticate_terminal()
    session = session_scope.session()
    school = session.get(School, terminal.school_id)
    assert school is not None
    now = _settings().now()
    body = build_roster(session, school, now)
    # Keys that sign dynamic QR tokens, so the terminal checks them offline; part of the ETag like the rest.
    body["qrKeys"] = roster_keys()
    # The serving line: the next serving days (a week offline) and the allergens to warn the cook of.
    body.update(build_week(session, school, now))
    body.update(roster_allergies(session, school.id, local_today(school, now), dt.date.fromisoformat(
        body["weekThrough"])))
    encoded = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    etag = hashlib.sha256(encoded).hexdigest()[:32]
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): a proxy that compresses may weaken the tag.
    response = Response(status=304) if request.if_none_match.contains_weak(etag) else jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@blueprint.post("/events")
def post_events() -> Response:
    # The token id is spent in the batch's own transaction (record_batch commits both, one commit a batch);
    # a batch refused before it gets there still spends it: a token is accepted once, whatever the answer.
    terminal = authenticate_terminal(spend_in_transaction=True)
    session = session_scope.session()
    try:
        return _post_events(terminal)
    except ProblemError:
        session.commit()  # a refused batch stored nothing else: the commit spends the token id
        raise
    except Exception:
        session.rollback()  # a failure: nothing of the batch stands, but the token stays spent
        with contextlib.suppress(SQLAlchemyError):  # the database itself may be what failed
            spend_token_id_again(session)
            session.commit()
        raise


def _post_events(terminal: Terminal) -> Response:
    received_at = _settings().now()
    envelope = load(_envelope_schema, json_body())
    settings = _settings()
    raw_events: list[Any] = envelope["events"]
    if not raw_events:
        raise ProblemError(422, "validation_failed", T_("A batch holds at least one event."))
    if len(raw_events) > settings.max_batch_events:
        raise ProblemError(413, "batch_too_large",
                           T_("A batch holds at most %(limit)s events; got %(count)s.",
                              limit=settings.max_batch_events, count=len(raw_events)))
    events, invalid = _parse_events(raw_events, qr_keyring(), received_at)
    backlog = envelope.get("backlog")
    batch = Batch(terminal_id=terminal.id, sent_at=envelope["sent_at"], received_at=received_at, events=events,
                  backlog_count=backlog["queued"] if backlog else None,
                  backlog_oldest_at=backlog["oldest_served_at"] if backlog else None)
    started = time.perf_counter()
    outcomes = record_batch(session_scope.session(), terminal, batch,
                            clock_tolerance=dt.timedelta(seconds=settings.device_clock_tolerance_s),
                            after_rollback=spend_token_id_again)
    results = sorted([*outcomes, *invalid], key=lambda o: o.index)
    recorder = metrics.current_recorder()
    if recorder is not None:
        recorder.batch(results, time.perf_counter() - started, oldest_served_at=min(
            (e.served_at for e in events), default=None), received_at=received_at)
    summary = {status: 0 for status in ("recorded", "replayed", "conflict", "invalid")}
    for outcome in results:
        summary[outcome.status] += 1
    return jsonify(
        results=[_result(o) for o in results], summary=summary,
        serverTime=_iso(received_at), clockOffsetMs=terminal.clock_offset_ms,
    )


def _parse_events(raw_events: list[Any], keyring: QrKeyring,
                  received_at: dt.datetime) -> tuple[list[MealEvent], list[EventOutcome]]:
    events: list[MealEvent] = []
    invalid: list[EventOutcome] = []
    for index, raw in enumerate(raw_events):
        event_id = raw.get("eventId") if isinstance(raw, dict) else None

        def refuse(errors: list[FieldError], index: int = index, event_id: Any = event_id) -> None:
            invalid.append(EventOutcome(
                index=index, event_id=event_id if isinstance(event_id, str) else None, status="invalid",
                code="validation_failed", message="The event has invalid fields.", errors=errors,
            ))

        # The plain checks read a well-formed event; the schema reads the rest and says what is wrong.
        data = well_formed_event(raw)
        if data is None:
            try:
                data = _event_schema.load(raw if isinstance(raw, dict) else {"_": raw})
            except ValidationError as exc:
                refuse(field_errors(exc.messages, f"events/{index}"))
                continue
        out_of_bounds = served_at_problem(data["served_at"], received_at)
        if out_of_bounds is not None:
            refuse([FieldError(f"events/{index}/servedAt", out_of_bounds, "out_of_range")])
            continue
        token = data.get("qr_token")
        claims = None
        if token is not None:
            # A token this service did not sign (or cannot read) is not a fact about a meal: nothing is stored.
            try:
                claims = decode_token(token, keyring)
            except QrTokenError as exc:
                refuse([FieldError(f"events/{index}/qrToken", T_("not a valid QR token: %(exc)s",
                                                                 exc=exc), "invalid_qr_token")])
                continue
        events.append(MealEvent(index=index, event_id=data["event_id"], device_seq=data["device_seq"],
                                student_ref=data["student_id"], meal_type=data["meal_type"],
                                served_at=data["served_at"], method=data["method"], qr_token=token, qr=claims,
                                allergen_warning=_allergen_warning(data.get("allergen_warning")),
                                manual_reason=data.get("manual_reason")))
    return events, invalid


def _allergen_warning(value: dict[str, bool] | None) -> str | None:
    """The ledger's word for a confirmed warning; nothing for none (the schema refuses an unconfirmed one)."""
    return ALLERGEN_WARNING_CONFIRMED if value and value["shown"] and value["confirmed"] else None


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _result(outcome: EventOutcome) -> dict[str, Any]:
    result: dict[str, Any] = {"index": outcome.index, "eventId": outcome.event_id, "status": outcome.status}
    entry = outcome.entry
    if entry is not None and outcome.status in ("recorded", "replayed"):
        result.update(
            # No price: contracts price meals by category, so a price would tell canteen staff the child's
            # eligibility category, which the terminal never learns (roster, QR tokens, results alike).
            entryId=entry.id, verdict=entry.verdict, reasons=entry.reason_list,
            servingDay=entry.serving_day.isoformat(), position=entry.position, leafHash=entry.leaf_hash.hex(),
        )
    if outcome.code:
        result.update(code=outcome.code, message=outcome.message)
    if outcome.errors:
        result["errors"] = [e.as_dict() for e in outcome.errors]
    return result
