"""Complaints: a parent escalates feedback on a child's meal to the education authority of the school's
region; auditors of that region (and operators) review and answer it.

Status moves submitted -> in_review -> answered, nothing else (409 `invalid_transition`); every move is a
row appended to the history, the complaint row keeps the current status and the answer. One open (not yet
answered) complaint per feedback; a feedback is that of one meal entry, so the entry names it. A child that
is not the caller's, or a meal of the child without feedback, is a 404 as if it did not exist. Texts are
plain text, length-limited, without control characters; they are stored as given and only sent as JSON.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.disclosure import shown_actor
from wallet.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from wallet.identifiers import mask_iin
from wallet.messages import T_
from wallet.models import (
    COMPLAINT_STATUSES,
    Complaint,
    ComplaintHistory,
    LedgerEntry,
    MealFeedback,
    Region,
    School,
)
from wallet.principals import Principal

MAX_TEXT = 2000
MAX_ANSWER = 4000
COMPLAINT_ROLES = ("operator", "auditor")  # the education authority: auditors of the region, operators
TRANSITIONS = {"submitted": ("in_review",), "in_review": ("answered",), "answered": ()}
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


@dataclass(frozen=True)
class HistoryItem:
    from_status: str | None
    status: str
    actor_role: str
    actor: str
    note: str | None
    at: dt.datetime


@dataclass(frozen=True)
class ComplaintView:
    id: int
    child_id: uuid.UUID
    entry_id: int
    school_bin: str
    school_name_kk: str
    school_name_ru: str
    region_code: str
    serving_day: dt.date
    meal_type: str
    text: str
    status: str
    answer: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    filed_by_reader: bool
    history: tuple[HistoryItem, ...] = ()


def plain_text(value: object, field_name: str, limit: int) -> str:
    """1..limit characters after trimming, no control characters but line breaks and tabs."""
    if not isinstance(value, str):
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError(field_name, T_("a string"))])
    text = value.strip()
    if not text:
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError(field_name, T_("must not be empty"), "required")])
    if len(text) > limit:
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError(field_name, T_("at most %(limit)s characters", limit=limit), "too_long")])
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in _ALLOWED_CONTROLS for c in text):
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError(field_name, T_("control characters are not allowed"), "control_character")])
    return text


def _parent_label(parent_iin: str) -> str:
    return mask_iin(parent_iin)


# --- parents --------------------------------------------------------------------------------------------


def submit_complaint(session: Session, *, parent_iin: str, child_id: uuid.UUID, entry_id: int | None,
                     text: object, now: dt.datetime | None = None) -> ComplaintView:
    """File a complaint about the feedback on a meal of the caller's child (the child was found among the
    caller's own by the caller). Commits."""
    now = now or dt.datetime.now(dt.UTC)
    body = plain_text(text, "text", MAX_TEXT)
    entry = None
    if entry_id is not None:
        entry = session.scalars(select(LedgerEntry).where(
            LedgerEntry.id == entry_id, LedgerEntry.student_id == child_id, LedgerEntry.kind == "meal")).first()
    if entry is None or session.scalar(
            select(MealFeedback.id).where(MealFeedback.entry_id == entry.id).limit(1)) is None:
        raise NotFound("feedback_not_found", T_("No feedback on this meal of this child: give feedback first."))
    if _open_for(session, entry.id) is not None:
        raise Conflict("complaint_already_open", T_("A complaint about this feedback is already open."))
    region_id = session.scalar(select(School.region_id).where(School.id == entry.school_id))
    complaint = Complaint(student_id=child_id, parent_iin=parent_iin, entry_id=entry.id, school_id=entry.school_id,
                          region_id=region_id, text=body, status="submitted", answer=None, created_at=now,
                          updated_at=now)
    session.add(complaint)
    try:
        session.flush()
        session.add(ComplaintHistory(complaint_id=complaint.id, from_status=None, status="submitted",
                                     actor_role="parent", actor=_parent_label(parent_iin), note=None, at=now))
        session.commit()
    except IntegrityError:  # another complaint about it was filed at the same moment
        session.rollback()
        raise Conflict("complaint_already_open", T_("A complaint about this feedback is already open.")) from None
    return _views(session, [complaint], reader_iin=parent_iin, with_history=True)[0]


def _open_for(session: Session, entry_id: int) -> int | None:
    return session.scalar(select(Complaint.id).where(Complaint.entry_id == entry_id,
                                                     Complaint.status != "answered"))


def child_complaints(session: Session, parent_iin: str, child_id: uuid.UUID) -> list[ComplaintView]:
    """Every complaint about the child (by any of its guardians), newest first, with answers and history."""
    rows = list(session.scalars(select(Complaint).where(Complaint.student_id == child_id)
                                .order_by(Complaint.id.desc())))
    return _views(session, rows, reader_iin=parent_iin, with_history=True)


# --- the authority --------------------------------------------------------------------------------------


def _authority(principal: Principal) -> None:
    if principal.role not in COMPLAINT_ROLES:
        raise Forbidden("forbidden", T_("complaints are handled by the education authority (auditors, operators)"))


def _visible(principal: Principal) -> list[object]:
    if principal.role != "auditor" or principal.national:
        return []
    # An auditor without a region sees nothing (scopes fail closed; wallet/principals.py refuses such tokens).
    return [Complaint.region_id.in_(select(Region.id).where(Region.code == (principal.region_code or "")))]


def list_complaints(session: Session, principal: Principal, *, status: str | None = None,
                    school_bin: str | None = None, before_id: int | None = None,
                    limit: int = 50) -> list[ComplaintView]:
    """Complaints of the caller's region (operators and national auditors: all), newest first."""
    _authority(principal)
    statement = select(Complaint).where(*_visible(principal))
    if status is not None:
        if status not in COMPLAINT_STATUSES:
            raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                               [FieldError("query/status", T_("one of %(statuses)s",
                                                              statuses=', '.join(COMPLAINT_STATUSES)))])
        statement = statement.where(Complaint.status == status)
    if school_bin is not None:
        statement = statement.where(Complaint.school_id.in_(select(School.id).where(School.bin == school_bin)))
    if before_id is not None:
        statement = statement.where(Complaint.id < before_id)
    rows = list(session.scalars(statement.order_by(Complaint.id.desc()).limit(limit)))
    return _views(session, rows, reader_iin=None, with_history=False)


def _complaint_in_scope(session: Session, principal: Principal, complaint_id: int | None,
                        *, lock: bool = False) -> Complaint:
    _authority(principal)
    found = None
    if complaint_id is not None:
        statement = select(Complaint).where(Complaint.id == complaint_id, *_visible(principal))
        found = session.scalars(statement.with_for_update() if lock else statement).first()
    if found is None:
        raise NotFound("complaint_not_found", T_("No complaint with this id in your scope."))
    return found


def get_complaint(session: Session, principal: Principal, complaint_id: int | None) -> ComplaintView:
    complaint = _complaint_in_scope(session, principal, complaint_id)
    return _views(session, [complaint], reader_iin=None, with_history=True)[0]


def change_status(session: Session, principal: Principal, complaint_id: int | None, status: object,
                  answer: object = None, note: object = None, *, now: dt.datetime | None = None) -> ComplaintView:
    """Move a complaint one step (submitted -> in_review -> answered; an answer is required to answer it).
    Appends the history row and commits."""
    now = now or dt.datetime.now(dt.UTC)
    if status not in COMPLAINT_STATUSES:
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError("status", T_("one of %(statuses)s",
                                                    statuses=', '.join(COMPLAINT_STATUSES)))])
    answer_text = plain_text(answer, "answer", MAX_ANSWER) if answer is not None else None
    note_text = plain_text(note, "note", MAX_TEXT) if note is not None else None
    if status == "answered" and answer_text is None:
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError("answer", T_("an answer is required to answer a complaint"), "required")])
    if status != "answered" and answer_text is not None:
        raise InvalidInput("validation_failed", T_("Some fields are not valid."),
                           [FieldError("answer", T_("only given when answering"))])
    complaint = _complaint_in_scope(session, principal, complaint_id, lock=True)
    if status not in TRANSITIONS[complaint.status]:
        raise Conflict("invalid_transition", T_("A complaint that is %(status)s cannot become %(new_status)s.",
                                                status=complaint.status, new_status=status))
    session.add(ComplaintHistory(complaint_id=complaint.id, from_status=complaint.status, status=str(status),
                                 actor_role=principal.role, actor=principal.actor[:80],
                                 note=answer_text if status == "answered" else note_text, at=now))
    complaint.status = str(status)
    complaint.updated_at = now
    if answer_text is not None:
        complaint.answer = answer_text
    session.commit()
    return _views(session, [complaint], reader_iin=None, with_history=True)[0]


# --- views ----------------------------------------------------------------------------------------------


def _views(session: Session, rows: list[Complaint], *, reader_iin: str | None,
           with_history: bool) -> list[ComplaintView]:
    if not rows:
        return []
    entries = {e.id: e for e in session.scalars(select(LedgerEntry).where(
        LedgerEntry.id.in_({r.entry_id for r in rows})))}
    schools = {s.id: s for s in session.scalars(select(School).where(School.id.in_({r.school_id for r in rows})))}
    regions = {rid: code for rid, code in session.execute(
        select(Region.id, Region.code).where(Region.id.in_({r.region_id for r in rows})))}
    history: dict[int, list[HistoryItem]] = {}
    if with_history:
        for h in session.scalars(select(ComplaintHistory).where(
                ComplaintHistory.complaint_id.in_({r.id for r in rows})).order_by(ComplaintHistory.id)):
            history.setdefault(h.complaint_id, []).append(
                HistoryItem(h.from_status, h.status, h.actor_role,
                            # A parent reader sees the staff member's role, not their subject (wallet.disclosure);
                            # the staff readers of complaints (COMPLAINT_ROLES) may see it.
                            shown_actor(h.actor, show_subject=reader_iin is None) or h.actor_role, h.note, h.at))
    return [ComplaintView(
        id=r.id, child_id=r.student_id, entry_id=r.entry_id, school_bin=schools[r.school_id].bin,
        school_name_kk=schools[r.school_id].name_kk,
        school_name_ru=schools[r.school_id].name_ru, region_code=regions[r.region_id],
        serving_day=entries[r.entry_id].serving_day, meal_type=entries[r.entry_id].meal_type, text=r.text,
        status=r.status, answer=r.answer, created_at=r.created_at, updated_at=r.updated_at,
        filed_by_reader=reader_iin is not None and r.parent_iin == reader_iin,
        history=tuple(history.get(r.id, ())),
    ) for r in rows]
