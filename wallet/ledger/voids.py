"""Voiding a meal: a new entry that points at the original and reverses its amount. Nothing is erased."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wallet.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.messages import T_
from wallet.models import LedgerEntry, MealSlot, School
from wallet.principals import Principal
from wallet.text import text_problem

MAX_REASON = 500


def void_entry(session: Session, entry_id: int, principal: Principal, reason: str,
               now: dt.datetime | None = None) -> LedgerEntry:
    """Append a void of `entry_id`; school admins may void only their own school's meals. Commits."""
    reason = (reason or "").strip()
    problem = text_problem(reason, min_length=1, max_length=MAX_REASON, prose=True)
    if problem is not None:  # the console and the CLI come here without the API's schema
        raise InvalidInput("validation_failed", T_("a void needs a reason of plain text"),
                           [FieldError("reason", problem.message, problem.code)])
    if principal.role not in ("operator", "school_admin"):
        raise Forbidden("forbidden", T_("only operators and school administrators void entries"))
    original = session.get(LedgerEntry, entry_id)
    school = session.get(School, original.school_id) if original else None
    if original is None or school is None or (
        principal.role == "school_admin" and principal.school_bin != school.bin
    ):
        raise NotFound("entry_not_found", T_("no entry %(entry_id)s", entry_id=entry_id))
    head = lock_chain_head(session, original.school_id)
    if original.kind != "meal":
        raise Conflict("not_voidable", T_("only meal entries can be voided"))
    already = session.scalar(select(LedgerEntry.id).where(LedgerEntry.refers_to == original.id))
    if already is not None:
        raise Conflict("already_voided", T_("entry %(entry_id)s was already voided by entry %(already)s",
                                            entry_id=entry_id, already=already))
    void = LedgerEntry(
        kind="void", student_ref=original.student_ref, student_id=original.student_id,
        meal_type=original.meal_type, served_at=original.served_at, serving_day=original.serving_day,
        billing_month=original.billing_month, received_at=now or dt.datetime.now(dt.UTC),
        verdict=original.verdict, reasons="", category_code=original.category_code,
        contract_id=original.contract_id, price_tiyn=original.price_tiyn, refers_to=original.id,
        actor=principal.actor, note=reason,
    )
    append_entries(session, head, [void], zone=school.timezone)
    session.execute(delete(MealSlot).where(MealSlot.entry_id == original.id))
    session.commit()
    return void
