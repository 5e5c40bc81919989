"""Monthly eligibility lists: a school's social pedagogue names the entitled pupils of a month.

A list is checked whole before anything is written (bad IINs, pupils unknown or not enrolled at that
school in that month, unknown categories, a pupil twice, a month outside the window, or closed): every bad
row is reported, nothing is stored. A good list:

- sets the month's eligibility spans for the school's pupils: a listed pupil's span on the listed ground
  is extended over the month (or a new span is made); the spans of the school's pupils on grounds the list
  does not give them are closed at the end of the previous month (spans that begin later are removed);
- is stored (replacing an earlier list of the same school and month), so the month's list and its
  differences from the school's previous list (added, removed, category changed) can be shown;
- runs the voucher jobs for the school: offers for newly entitled pupils, suspension for those who lost it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wallet.errors import NotFound
from wallet.identifiers import mask_iin
from wallet.importing.errors import RowError
from wallet.messages import T_
from wallet.models import (
    ClosedPeriod,
    EligibilityCategory,
    EligibilityList,
    EligibilityListEntry,
    Enrollment,
    School,
    Student,
    StudentEligibility,
)
from wallet.months import Month, parse_month
from wallet.vouchers.eligibility_list_files import DOCUMENT, ListDocument, ListRefused
from wallet.vouchers.offers import VoucherReport, offer_vouchers, sync_vouchers
from wallet.vouchers.years import school_year_of


@dataclass(frozen=True)
class Pupil:
    student_id: uuid.UUID
    iin: str
    last_name: str
    first_name: str


@dataclass(frozen=True)
class Change:
    pupil: Pupil
    category: str | None
    previous_category: str | None


@dataclass
class ListView:
    school: School
    month: Month
    submitted_at: dt.datetime
    entries: list[tuple[Pupil, str]]
    previous_month: Month | None
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    category_changed: list[Change] = field(default_factory=list)
    vouchers: VoucherReport | None = None


def month_window(today: dt.date) -> tuple[Month, Month]:
    """Lists are taken for last month (late corrections), this month and next month (prepared ahead)."""
    this = Month.of(today)
    previous = Month.of(this.first_day - dt.timedelta(days=1))
    return previous, this.next()


def _check_month(session: Session, school: School, month: Month, today: dt.date, line: int) -> list[RowError]:
    earliest, latest = month_window(today)
    column = "month"
    if not earliest <= month <= latest:
        return [RowError(line, column, f"{month} is outside the months a list may be given for now "
                                       f"({earliest} to {latest})")]
    closed = session.scalar(select(ClosedPeriod.id).where(ClosedPeriod.region_id == school.region_id,
                                                          ClosedPeriod.month == str(month)))
    if closed is not None:
        return [RowError(line, column, f"{month} is closed for the school's region; it can no longer change")]
    return []


def _enrolled_during(session: Session, school_id: int, month: Month) -> set[uuid.UUID]:
    return set(session.scalars(select(Enrollment.student_id).where(
        Enrollment.school_id == school_id, Enrollment.valid_from <= month.last_day,
        (Enrollment.valid_to.is_(None)) | (Enrollment.valid_to >= month.first_day))))


def _pupils(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Pupil]:
    found: dict[uuid.UUID, Pupil] = {}
    batch = sorted(ids, key=str)
    for start in range(0, len(batch), 900):
        for sid, iin, last, first in session.execute(select(
                Student.id, Student.iin, Student.last_name, Student.first_name).where(
                Student.id.in_(batch[start:start + 900]))):
            found[sid] = Pupil(sid, iin, last, first)
    return found


def submit_list(session: Session, school: School, document: ListDocument, *, submitted_by: str, today: dt.date,
                now: dt.datetime | None = None, source: str = "csv") -> ListView:
    """Check the list whole, apply it, store it and run the voucher jobs; commit. ListRefused if any row is
    wrong (nothing written)."""
    now = now or dt.datetime.now(dt.UTC)
    month, rows = document.month, document.rows
    errors: list[RowError] = list(document.errors)
    # Problems of the whole list: on its first row in a file (every row names school and month), else on
    # the document's member.
    whole = rows[0].line if rows and source == "csv" else DOCUMENT
    if document.school_bin != school.bin:
        errors.append(RowError(whole, "school_bin", f"the list is for school {document.school_bin}, not {school.bin}"))
    errors += _check_month(session, school, month, today, whole)
    categories = set(session.scalars(select(EligibilityCategory.code)))
    by_iin: dict[str, uuid.UUID] = {}
    iins = sorted({r.iin for r in rows})
    for start in range(0, len(iins), 900):
        query = select(Student.iin, Student.id).where(Student.iin.in_(iins[start:start + 900]))
        by_iin.update((iin, sid) for iin, sid in session.execute(query))
    enrolled = _enrolled_during(session, school.id, month)
    first_line: dict[str, int] = {}
    listed: dict[uuid.UUID, str] = {}
    for r in rows:
        if r.iin in first_line:
            earlier = f"line {first_line[r.iin]}" if source == "csv" else f"pupils/{first_line[r.iin] - 1}"
            errors.append(RowError(r.line, "iin", f"this pupil is already listed at {earlier}"))
            continue
        first_line[r.iin] = r.line
        if r.category not in categories:
            errors.append(RowError(r.line, "category", f"unknown eligibility category {r.category!r}; known: "
                                   f"{', '.join(sorted(categories))}"))
        sid = by_iin.get(r.iin)
        if sid is None:
            errors.append(RowError(r.line, "iin", "no pupil with this IIN"))
        elif sid not in enrolled:
            errors.append(RowError(r.line, "iin", f"this pupil is not enrolled at school {school.bin} in {month}"))
        else:
            listed[sid] = r.category
    if errors:
        raise ListRefused(errors, source)
    _apply_spans(session, month, listed, enrolled)
    stored = _store(session, school, month, listed, submitted_by, now)
    view = _view(session, school, stored)
    year = school_year_of(month.first_day)
    report = offer_vouchers(session, year, max(today, month.first_day), now, school_ids=[school.id])
    synced = sync_vouchers(session, year, today, now, school_ids=[school.id]) if month.first_day <= today else None
    if synced is not None:
        report.changed = synced.changed
    view.vouchers = report
    session.commit()
    return view


def _apply_spans(session: Session, month: Month, listed: dict[uuid.UUID, str], in_scope: set[uuid.UUID]) -> None:
    """Make eligibility of the school's pupils from the month's start what the list says."""
    start, end = month.first_day, month.last_day
    spans: dict[tuple[uuid.UUID, str], list[tuple[int, dt.date, dt.date]]] = defaultdict(list)
    ids = sorted(in_scope | set(listed), key=str)
    for i in range(0, len(ids), 900):
        for id_, sid, code, a, b in session.execute(select(
                StudentEligibility.id, StudentEligibility.student_id, StudentEligibility.category_code,
                StudentEligibility.valid_from, StudentEligibility.valid_to)
                .where(StudentEligibility.student_id.in_(ids[i:i + 900]),
                       StudentEligibility.valid_to >= start - dt.timedelta(days=1))):
            spans[(sid, code)].append((id_, a, b))
    deletes: list[int] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for (sid, code), found in spans.items():
        if listed.get(sid) == code:
            continue
        for id_, a, b in found:  # a ground the list does not give this pupil any more
            if b < start:
                continue  # ended the day before the month: nothing to close
            if a < start:
                updates.append({"id": id_, "valid_to": start - dt.timedelta(days=1)})
            else:
                deletes.append(id_)
    for sid, code in listed.items():
        found = sorted(spans.get((sid, code), []), key=lambda s: s[1])
        touching = [s for s in found if s[1] <= end + dt.timedelta(days=1)]
        if not touching:
            inserts.append({"student_id": sid, "category_code": code, "valid_from": start, "valid_to": end})
            continue
        keep, *merged = touching  # one span over the month: the earliest, stretched; the rest folded in
        deletes += [s[0] for s in merged]
        new_from = min(keep[1], start)
        new_to = max([end, *(s[2] for s in touching)])
        if (new_from, new_to) != (keep[1], keep[2]):
            updates.append({"id": keep[0], "valid_from": new_from, "valid_to": new_to})
    if deletes:
        session.execute(delete(StudentEligibility).where(StudentEligibility.id.in_(deletes)))
    for values in updates:
        session.execute(update(StudentEligibility).where(StudentEligibility.id == values["id"])
                        .values(**{k: v for k, v in values.items() if k != "id"}))
    if inserts:
        session.execute(StudentEligibility.__table__.insert(), inserts)


def _store(session: Session, school: School, month: Month, listed: dict[uuid.UUID, str], submitted_by: str,
           now: dt.datetime) -> EligibilityList:
    stored = session.scalars(select(EligibilityList).where(EligibilityList.school_id == school.id,
                                                           EligibilityList.month == str(month))).one_or_none()
    if stored is None:
        stored = EligibilityList(school_id=school.id, month=str(month), submitted_at=now,
                                 submitted_by=submitted_by[:80])
        session.add(stored)
        session.flush()
    else:
        stored.submitted_at, stored.submitted_by = now, submitted_by[:80]
        session.execute(delete(EligibilityListEntry).where(EligibilityListEntry.list_id == stored.id))
    if listed:
        session.execute(EligibilityListEntry.__table__.insert(),
                        [{"list_id": stored.id, "student_id": sid, "category_code": code}
                         for sid, code in listed.items()])
    session.flush()
    return stored


def _entries(session: Session, list_id: int) -> dict[uuid.UUID, str]:
    return dict(session.execute(select(EligibilityListEntry.student_id, EligibilityListEntry.category_code)
                                .where(EligibilityListEntry.list_id == list_id)).all())


def _view(session: Session, school: School, stored: EligibilityList) -> ListView:
    month = parse_month(stored.month)
    current = _entries(session, stored.id)
    previous_list = session.scalars(
        select(EligibilityList).where(EligibilityList.school_id == school.id,
                                      EligibilityList.month < stored.month)
        .order_by(EligibilityList.month.desc()).limit(1)).first()
    previous = _entries(session, previous_list.id) if previous_list else {}
    pupils = _pupils(session, set(current) | set(previous))

    def order(change: Change) -> tuple[str, str, str]:
        return (change.pupil.last_name, change.pupil.first_name, str(change.pupil.student_id))

    view = ListView(school, month, stored.submitted_at,
                    sorted(((pupils[s], c) for s, c in current.items()),
                           key=lambda e: (e[0].last_name, e[0].first_name, str(e[0].student_id))),
                    parse_month(previous_list.month) if previous_list else None)
    view.added = sorted((Change(pupils[s], c, None) for s, c in current.items() if s not in previous), key=order)
    view.removed = sorted((Change(pupils[s], None, c) for s, c in previous.items() if s not in current), key=order)
    view.category_changed = sorted((Change(pupils[s], c, previous[s]) for s, c in current.items()
                                    if s in previous and previous[s] != c), key=order)
    return view


def list_for_month(session: Session, school: School, month: Month) -> ListView:
    """The school's stored list of a month with its differences from the previous list; NotFound if none."""
    stored = session.scalars(select(EligibilityList).where(EligibilityList.school_id == school.id,
                                                           EligibilityList.month == str(month))).one_or_none()
    if stored is None:
        raise NotFound("eligibility_list_not_found", T_("no eligibility list of school %(bin)s for %(month)s",
                                                        bin=school.bin, month=month))
    return _view(session, school, stored)


def masked(pupil: Pupil) -> str:
    return mask_iin(pupil.iin)
