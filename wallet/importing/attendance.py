"""`attendance`: the class journal's daily marks (present, absent, late, left early), keyed by pupil IIN +
date, as CSV or JSON lines (wallet.importing.jsonlines). The pupil must be enrolled at the school that day.
A later import of the same pupil and day corrects the mark (the journal can be late or wrong)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wallet.importing.base import (
    Counts,
    Kind,
    bulk_insert,
    bulk_update,
    find_duplicates,
    ids_by_bin,
    student_ids,
    unknown_schools,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import ATTENDANCE_MARKS, AttendanceMark, Enrollment, School


@dataclass(frozen=True)
class MarkRecord:
    line: int
    school_bin: str
    iin: str
    day: dt.date
    mark: str


@dataclass
class MarkPlan:
    records: list[MarkRecord]
    school_ids: dict[str, int]
    students: dict[str, uuid.UUID]
    stored: dict[tuple[uuid.UUID, dt.date], tuple[int, int, str]] = field(default_factory=dict)


class Attendance(Kind[MarkRecord, MarkPlan]):
    name = "attendance"
    required = ("school_bin", "iin", "date", "mark")
    optional = ()

    def parse(self, line: int, cells: Cells) -> MarkRecord | None:
        school_bin, iin, day = cells.bin("school_bin"), cells.iin("iin"), cells.date("date")
        mark = cells.choice("mark", ATTENDANCE_MARKS)
        return None if cells.errors else MarkRecord(line, school_bin, iin, day, mark)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[MarkRecord], errors: list[RowError]) -> MarkPlan:
        errors += find_duplicates(records, lambda r: (r.iin, r.day), lambda r: r.line, "date",
                                  T_("this pupil and date"))
        plan = MarkPlan(records, ids_by_bin(session, School, (r.school_bin for r in records)),
                        student_ids(session, (r.iin for r in records)))
        errors += unknown_schools(records, plan.school_ids)
        if not records:
            return plan
        first, last = min(r.day for r in records), max(r.day for r in records)
        ids = set(plan.students.values())
        spans: dict[tuple[uuid.UUID, int], list[tuple[dt.date, dt.date | None]]] = {}
        for sid, school_id, a, b in session.execute(
            select(Enrollment.student_id, Enrollment.school_id, Enrollment.valid_from, Enrollment.valid_to)
            .where(Enrollment.student_id.in_(ids), Enrollment.valid_from <= last,
                   or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= first))):
            spans.setdefault((sid, school_id), []).append((a, b))
        for r in records:
            sid, school_id = plan.students.get(r.iin), plan.school_ids.get(r.school_bin)
            if sid is None:
                errors.append(RowError(r.line, "iin", T_("no pupil with this IIN")))
            elif school_id is not None and not any(a <= r.day and (b is None or r.day <= b)
                                                   for a, b in spans.get((sid, school_id), ())):
                errors.append(RowError(r.line, "iin", T_("the pupil is not enrolled at %(school_bin)s on %(day)s",
                                                             school_bin=r.school_bin, day=r.day)))
        for id_, sid, school_id, day, mark in session.execute(
            select(AttendanceMark.id, AttendanceMark.student_id, AttendanceMark.school_id, AttendanceMark.day,
                   AttendanceMark.mark)
            .where(AttendanceMark.student_id.in_(ids), AttendanceMark.day.between(first, last))):
            plan.stored[(sid, day)] = (id_, school_id, mark)
        return plan

    def write(self, session: Session, plan: MarkPlan) -> Counts:
        counts = Counts()
        now = dt.datetime.now(dt.UTC)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            sid, school_id = plan.students[r.iin], plan.school_ids[r.school_bin]
            stored = plan.stored.get((sid, r.day))
            changed = stored is not None and stored[1:] != (school_id, r.mark)
            if stored is None:
                inserts.append({"student_id": sid, "school_id": school_id, "day": r.day, "mark": r.mark,
                                "imported_at": now})
            elif changed:
                updates.append({"id": stored[0], "school_id": school_id, "mark": r.mark, "imported_at": now})
            counts.count(new=stored is None, changed=changed)
        bulk_insert(session, AttendanceMark, inserts)
        bulk_update(session, AttendanceMark, updates)
        return counts
