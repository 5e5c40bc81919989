"""Ledger entries for the console's drill-down (a school's day, one entry), in the caller's scope only.

Children appear by masked IIN unless the caller may read it in full (the reconciliation's rule); names never.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.disclosure import shown_text
from wallet.errors import NotFound
from wallet.identifiers import mask_iin
from wallet.messages import T_
from wallet.models import LedgerEntry, School, Student
from wallet.principals import Principal
from wallet.scope import schools_in_scope

MAX_DAY_ENTRIES = 2000


@dataclass(frozen=True)
class EntryRow:
    id: int
    position: int
    kind: str
    meal_type: str
    served_at: dt.datetime
    received_at: dt.datetime
    verdict: str
    reasons: tuple[str, ...]
    terminal_id: str | None
    device_seq: int | None
    child: str  # masked IIN, or the opaque reference when the child is unknown
    refers_to: int | None
    price_tiyn: int
    school_bin: str
    serving_day: dt.date
    note: str | None


def _child_label(iin: str | None, ref: str, show_iin: bool) -> str:
    if iin is None:  # an unknown child: the reference as sent, an IIN-shaped one masked (wallet.disclosure)
        shown = shown_text(ref, show_iin=show_iin) or ""
        return shown[:14] + ("…" if len(shown) > 14 else "")
    return iin if show_iin else mask_iin(iin)


def _row(entry: LedgerEntry, iin: str | None, school_bin: str, show_iin: bool) -> EntryRow:
    return EntryRow(entry.id, entry.position, entry.kind, entry.meal_type, entry.served_at, entry.received_at,
                    entry.verdict, tuple(r for r in entry.reasons.split(",") if r), entry.terminal_id,
                    entry.device_seq, _child_label(iin, entry.student_ref, show_iin), entry.refers_to,
                    entry.price_tiyn, school_bin, entry.serving_day, shown_text(entry.note, show_iin=show_iin))


def day_entries(session: Session, school: School, day: dt.date, *, show_iin: bool = False) -> list[EntryRow]:
    rows = session.execute(
        select(LedgerEntry, Student.iin).outerjoin(Student, Student.id == LedgerEntry.student_id)
        .where(LedgerEntry.school_id == school.id, LedgerEntry.serving_day == day)
        .order_by(LedgerEntry.position).limit(MAX_DAY_ENTRIES)
    )
    return [_row(entry, iin, school.bin, show_iin) for entry, iin in rows]


def entry_in_scope(session: Session, principal: Principal, entry_id: int, *, show_iin: bool = False) -> EntryRow:
    found = session.execute(
        select(LedgerEntry, Student.iin, School.bin).outerjoin(Student, Student.id == LedgerEntry.student_id)
        .join(School, School.id == LedgerEntry.school_id)
        .where(LedgerEntry.id == entry_id, LedgerEntry.school_id.in_(schools_in_scope(principal)))
    ).one_or_none()
    if found is None:
        raise NotFound("entry_not_found", T_("no entry %(entry_id)s in your scope", entry_id=entry_id))
    entry, iin, school_bin = found
    return _row(entry, iin, school_bin, show_iin)
