"""Parents' disputes: "my child did not eat this", once per meal, with an optional comment.

A dispute is a finding (rule `parent_dispute`, source `parent`) that holds the meal's payment until an
auditor of the region rules; the dispute row keeps who said it and the comment, out of the finding's
evidence (which auditors, schools and exports read). A complaint about the same meal goes on through the
complaints flow (POST .../complaints with the entry id).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import Conflict, FieldError, InvalidInput, NotFound
from wallet.evidence import codes
from wallet.evidence.findings import Candidate, record
from wallet.messages import T_
from wallet.models import FindingRuling, LedgerEntry, MealDispute, School
from wallet.text import text_problem

MAX_COMMENT = 500


@dataclass(frozen=True)
class DisputeView:
    entry_id: int
    comment: str | None
    at: dt.datetime | None
    state: str  # none (not disputed), open, upheld, dismissed


def _meal(session: Session, child_id: uuid.UUID, entry_id: int | None) -> LedgerEntry:
    entry = None if entry_id is None else session.scalars(select(LedgerEntry).where(
        LedgerEntry.id == entry_id, LedgerEntry.student_id == child_id, LedgerEntry.kind == "meal")).first()
    if entry is None:
        raise NotFound("meal_not_found", T_("No meal with this id was recorded for this child."))
    return entry


def dispute_meal(session: Session, *, parent_iin: str, child_id: uuid.UUID, entry_id: int | None,
                 comment: object, now: dt.datetime) -> DisputeView:
    """Record the dispute and its finding; commits. 409 for a refused or voided meal or a second dispute."""
    text: str | None = None
    if comment is not None:
        if not isinstance(comment, str):
            raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                               [FieldError("comment", T_("a string"))])
        text = comment.strip() or None
        problem = text_problem(text or "", max_length=MAX_COMMENT, prose=True)
        if problem is not None:
            raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                               [FieldError("comment", problem.message, problem.code)])
    entry = _meal(session, child_id, entry_id)
    if entry.verdict != "billable":
        raise Conflict("meal_not_served", T_("This attempt was refused (not billable): nothing was paid for it."))
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.refers_to == entry.id)) is not None:
        raise Conflict("meal_voided", T_("This meal was voided: nothing is paid for it."))
    if session.scalar(select(MealDispute.id).where(MealDispute.entry_id == entry.id)) is not None:
        raise Conflict("meal_already_disputed", T_("This meal was already disputed."))
    region_id = session.scalar(select(School.region_id).where(School.id == entry.school_id))
    assert region_id is not None
    [finding] = record(session, [Candidate(codes.PARENT_DISPUTE, f"entry:{entry.id}", region_id, entry.school_id,
                                           entry.serving_day, {"day": entry.serving_day.isoformat()}, (entry.id,))],
                       source="parent", now=now) or [None]
    if finding is None:
        raise Conflict("meal_already_disputed", T_("This meal was already disputed."))
    session.add(MealDispute(entry_id=entry.id, student_id=child_id, parent_iin=parent_iin, comment=text,
                            finding_id=finding.id, at=now))
    try:
        session.commit()
    except IntegrityError:  # a second guardian at the same moment
        session.rollback()
        raise Conflict("meal_already_disputed", T_("This meal was already disputed.")) from None
    return DisputeView(entry.id, text, now, "open")


def dispute_of(session: Session, child_id: uuid.UUID, entry_id: int | None) -> DisputeView:
    entry = _meal(session, child_id, entry_id)
    row = session.execute(select(MealDispute, FindingRuling.outcome).outerjoin(
        FindingRuling, FindingRuling.finding_id == MealDispute.finding_id).where(
        MealDispute.entry_id == entry.id)).first()
    if row is None:
        return DisputeView(entry.id, None, None, "none")
    dispute, outcome = row
    return DisputeView(dispute.entry_id, dispute.comment, dispute.at, outcome or "open")
