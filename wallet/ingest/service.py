"""record_batch: judge a terminal's batch of meal events and append it to the school's chain, once.

Idempotency: the chain head of the school is locked first, then the batch's event ids are looked up, so
of any number of identical batches sent at once, the first appends and the others find its entries and
answer with the same results. The caller's session is committed here: a success is reported only after
the commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.db import one_of
from wallet.errors import FieldError
from wallet.evidence.on_append import check_appended
from wallet.identifiers import looks_like_iin
from wallet.ingest import rules
from wallet.ingest.context import SchoolContext, load_context, parse_student_ref
from wallet.ingest.events import Batch, EventOutcome, MealEvent
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.messages import T_
from wallet.models import LedgerEntry, MealSlot, School, Terminal
from wallet.parents.notifications import record_meal_notifications
from wallet.qr.ingest import QrBatchContext, load_qr_context

IIN_NOT_ALLOWED = "iin_not_allowed"
# A unique-key race the lock cannot see (it should not happen) is retried this many times.
_ATTEMPTS = 3


def record_batch(
    session: Session, terminal: Terminal, batch: Batch, *, clock_tolerance: dt.timedelta,
    after_rollback: Callable[[Session], None] | None = None,
) -> list[EventOutcome]:
    """`after_rollback`: what the caller had done in this transaction and must do again before a retry
    (the endpoint's spent token id, which commits with the batch)."""
    for attempt in range(_ATTEMPTS):
        try:
            outcomes = _record_once(session, terminal, batch, clock_tolerance)
            session.commit()
            return outcomes
        except IntegrityError:
            session.rollback()
            if attempt == _ATTEMPTS - 1:
                raise
            if after_rollback is not None:
                after_rollback(session)
    raise AssertionError("unreachable")


def _record_once(
    session: Session, terminal: Terminal, batch: Batch, clock_tolerance: dt.timedelta
) -> list[EventOutcome]:
    head = lock_chain_head(session, terminal.school_id)
    school = session.get(School, terminal.school_id)
    assert school is not None
    by_event_id = _existing_by_event_id(session, batch.events)
    seq_owner = _existing_seq_owners(session, terminal.id, batch.events)

    outcomes: list[EventOutcome] = []
    fresh: list[tuple[MealEvent, EventOutcome]] = []
    first_in_batch: dict[uuid.UUID, MealEvent] = {}
    for event in batch.events:
        outcome = _classify(event, terminal, by_event_id, seq_owner, first_in_batch)
        outcomes.append(outcome)
        if outcome.status == "recorded":
            fresh.append((event, outcome))
            first_in_batch[event.event_id] = event
            seq_owner[event.device_seq] = event.event_id

    qr_ctx = load_qr_context(session, school.id, school.bin, [e.qr for e, _ in fresh if e.qr is not None],
                             clock_tolerance)
    ctx = _context_for(session, school, [e for e, _ in fresh], qr_ctx)
    entries = [_judge(event, outcome, ctx, qr_ctx, terminal, batch, clock_tolerance) for event, outcome in fresh]
    # The entries go in by Core (no unit of work for a hundred rows of 30 columns); the meal slots likewise.
    append_entries(session, head, entries, zone=school.timezone, core=True)
    qr_ctx.record_uses(session)
    slots = [{"student_id": e.student_id, "serving_day": e.serving_day, "meal_type": e.meal_type, "entry_id": e.id}
             for e in entries if e.verdict == "billable" and e.student_id is not None]
    if slots:
        session.execute(MealSlot.__table__.insert(), slots)
    # The cheap evidence rules (wallet.evidence.on_append): their findings commit with the entries.
    check_appended(session, school, entries, batch.received_at)
    # Parents' outbox, in this transaction and under the chain-head lock (one INSERT ... SELECT per batch).
    record_meal_notifications(session, entries, batch.received_at)
    _resolve_in_batch_replays(outcomes)
    terminal.last_contact_at = batch.received_at
    terminal.clock_offset_ms = round((batch.received_at - batch.sent_at).total_seconds() * 1000)
    if batch.backlog_count is not None:  # an older agent says nothing: keep what is known
        terminal.backlog_count = batch.backlog_count
        terminal.backlog_oldest_at = batch.backlog_oldest_at if batch.backlog_count else None
    session.flush()
    return outcomes


def _existing_by_event_id(session: Session, events: list[MealEvent]) -> dict[uuid.UUID, LedgerEntry]:
    ids = {e.event_id for e in events}
    if not ids:
        return {}
    found = session.scalars(select(LedgerEntry).where(one_of(session, LedgerEntry.event_id, ids)))
    return {entry.event_id: entry for entry in found if entry.event_id is not None}


def _existing_seq_owners(session: Session, terminal_id: str, events: list[MealEvent]) -> dict[int, uuid.UUID]:
    seqs = {e.device_seq for e in events}
    if not seqs:
        return {}
    rows = session.execute(
        select(LedgerEntry.device_seq, LedgerEntry.event_id).where(
            LedgerEntry.terminal_id == terminal_id, one_of(session, LedgerEntry.device_seq, seqs)
        )
    )
    return {seq: event_id for seq, event_id in rows if seq is not None and event_id is not None}


def _classify(
    event: MealEvent,
    terminal: Terminal,
    by_event_id: dict[uuid.UUID, LedgerEntry],
    seq_owner: dict[int, uuid.UUID],
    first_in_batch: dict[uuid.UUID, MealEvent],
) -> EventOutcome:
    outcome = EventOutcome(index=event.index, event_id=str(event.event_id), status="recorded")
    if looks_like_iin(event.student_ref):
        # A person's number typed where the roster id belongs: never hashed into the ledger, not even as a
        # refused attempt (see docs/decisions.md, "IIN-shaped references").
        outcome.status, outcome.code = "invalid", "validation_failed"
        outcome.message = T_("The event has invalid fields.")
        outcome.errors = [FieldError(f"events/{event.index}/studentId",
                                     T_("looks like an IIN: send the roster's student id, never an IIN"),
                                     IIN_NOT_ALLOWED)]
        return outcome
    earlier = by_event_id.get(event.event_id)
    if earlier is not None:
        if earlier.terminal_id == terminal.id and earlier.content_hash == event.content_hash():
            outcome.status, outcome.entry = "replayed", earlier
        else:
            _conflict(outcome, "event_id_reused", T_("this eventId was already recorded with other content"))
        return outcome
    twin = first_in_batch.get(event.event_id)
    if twin is not None:
        if twin.content_hash() == event.content_hash():
            outcome.status = "replayed"  # filled in with the twin's entry once it is appended
        else:
            _conflict(outcome, "event_id_reused", T_("this eventId appears earlier in the batch with other content"))
        return outcome
    owner = seq_owner.get(event.device_seq)
    if owner is not None and owner != event.event_id:
        _conflict(outcome, "device_seq_reused", T_("deviceSeq %(seq)s already belongs to event %(owner)s",
                                                 seq=event.device_seq, owner=owner))
    return outcome


def _conflict(outcome: EventOutcome, code: str, message: str) -> None:
    outcome.status, outcome.code, outcome.message = "conflict", code, message


def _student_ref(event: MealEvent, qr_ctx: QrBatchContext) -> str:
    return qr_ctx.student_ref(event.qr, event.student_ref) if event.qr is not None else event.student_ref


def _context_for(session: Session, school: School, events: list[MealEvent], qr_ctx: QrBatchContext) -> SchoolContext:
    zone_probe = SchoolContext(school=school, zone=ZoneInfo(school.timezone))
    days = {zone_probe.serving_day(e.served_at) for e in events}
    ids = {sid for e in events if (sid := parse_student_ref(_student_ref(e, qr_ctx))) is not None}
    return load_context(session, school, ids, days)


def _judge(
    event: MealEvent,
    outcome: EventOutcome,
    ctx: SchoolContext,
    qr_ctx: QrBatchContext,
    terminal: Terminal,
    batch: Batch,
    clock_tolerance: dt.timedelta,
) -> LedgerEntry:
    day = ctx.serving_day(event.served_at)
    student_ref = _student_ref(event, qr_ctx)
    qr_problems = () if event.qr is None else tuple(qr_ctx.problems(
        event.qr, sent_ref=event.student_ref, meal_type=event.meal_type, served_at=event.served_at, day=day))
    parsed = parse_student_ref(student_ref)
    student = parsed if parsed in ctx.students else None
    category = ctx.category(student, day) if student else None
    price = ctx.price(day, event.meal_type, category) if category else None
    facts = rules.Facts(
        student_known=student is not None,
        enrolled=student is not None and ctx.enrolled(student, day),
        category=category,
        day_kind=ctx.day_kinds.get(day),
        already_served=student is not None and (student, day, event.meal_type) in ctx.served,
        period_closed=f"{day:%Y-%m}" in ctx.closed_months,
        clock_offset=batch.received_at - batch.sent_at,
        served_after_sent=event.served_at - batch.sent_at,
        price_tiyn=price.price_tiyn if price else None,
        qr_problems=qr_problems,
        in_window=ctx.in_window(event.served_at, event.meal_type),
        voucher_covered=event.qr is not None or student is None or category is None
        or ctx.covered(student, day, category),
    )
    verdict = rules.decide(facts, clock_tolerance=clock_tolerance)
    if verdict.billable and student is not None:
        ctx.served.add((student, day, event.meal_type))
    entry = LedgerEntry(
        kind="meal", event_id=event.event_id, terminal_id=terminal.id, device_seq=event.device_seq,
        student_ref=student_ref, student_id=student, meal_type=event.meal_type, method=event.method,
        served_at=event.served_at, serving_day=day, billing_month=f"{day:%Y-%m}",
        received_at=batch.received_at, verdict=verdict.name, reasons=",".join(verdict.reasons),
        category_code=category, contract_id=price.contract_id if price and verdict.billable else None,
        price_tiyn=verdict.price_tiyn, content_hash=event.content_hash(),
        voucher_id=event.qr.voucher_id if event.qr else None, qr_token_id=event.qr.token_id if event.qr else None,
        allergen_warning=event.allergen_warning,
        manual_reason=event.manual_reason,
    )
    if event.qr is not None:
        qr_ctx.spends(event.qr, verdict.reasons, entry)
    outcome.entry = entry
    return entry


def _resolve_in_batch_replays(outcomes: list[EventOutcome]) -> None:
    recorded = {o.event_id: o.entry for o in outcomes if o.status == "recorded"}
    for outcome in outcomes:
        if outcome.status == "replayed" and outcome.entry is None:
            outcome.entry = recorded[outcome.event_id]
