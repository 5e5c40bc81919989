"""`students`: one row per pupil, keyed by IIN; each row also creates or updates the pupil's enrollment,
matched on student + school + enrolled_from."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wallet.importing.base import (
    Counts,
    Kind,
    bulk_insert,
    bulk_update,
    find_duplicates,
    ids_by_bin,
    rows_in,
    unknown_schools,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import Enrollment, School, Student


@dataclass(frozen=True)
class StudentRecord:
    line: int
    iin: str
    last_name: str
    first_name: str
    patronymic: str | None
    school_bin: str
    grade: int
    class_name: str
    enrolled_from: dt.date
    enrolled_to: dt.date | None


@dataclass
class StudentPlan:
    records: list[StudentRecord]
    school_ids: dict[str, int]
    students: dict[str, tuple[uuid.UUID, str, str, str | None]] = field(default_factory=dict)
    # (student id, school id, valid_from) -> (enrollment id, grade, class_name, valid_to)
    enrollments: dict[tuple[uuid.UUID, int, dt.date], tuple[int, int, str, dt.date | None]] = field(
        default_factory=dict
    )


class Students(Kind[StudentRecord, StudentPlan]):
    name = "students"
    required = ("iin", "last_name", "first_name", "school_bin", "grade", "class_name", "enrolled_from")
    optional = ("patronymic", "enrolled_to")

    def parse(self, line: int, cells: Cells) -> StudentRecord | None:
        values = (
            cells.iin("iin"),
            cells.text("last_name", 100),
            cells.text("first_name", 100),
            cells.optional_text("patronymic", 100),
            cells.bin("school_bin"),
            cells.integer("grade", 0, 12),
            cells.text("class_name", 16),
            cells.date("enrolled_from"),
            cells.optional_date("enrolled_to"),
        )
        cells.period("enrolled_from", "enrolled_to", values[7], values[8])  # type: ignore[arg-type]
        return None if cells.errors else StudentRecord(line, *values)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[StudentRecord], errors: list[RowError]) -> StudentPlan:
        errors += find_duplicates(records, lambda r: r.iin, lambda r: r.line, "iin", T_("IIN"))
        plan = StudentPlan(records, ids_by_bin(session, School, (r.school_bin for r in records)))
        errors += unknown_schools(records, plan.school_ids)
        for iin, *stored in rows_in(
            session,
            (Student.iin, Student.id, Student.last_name, Student.first_name, Student.patronymic),
            Student.iin,
            (r.iin for r in records),
        ):
            plan.students[iin] = tuple(stored)  # type: ignore[assignment]
        for id_, student_id, school_id, valid_from, grade, class_name, valid_to in rows_in(
            session,
            (
                Enrollment.id,
                Enrollment.student_id,
                Enrollment.school_id,
                Enrollment.valid_from,
                Enrollment.grade,
                Enrollment.class_name,
                Enrollment.valid_to,
            ),
            Enrollment.student_id,
            (s[0] for s in plan.students.values()),
        ):
            plan.enrollments[(student_id, school_id, valid_from)] = (id_, grade, class_name, valid_to)
        return plan

    def write(self, session: Session, plan: StudentPlan) -> Counts:
        counts = Counts()
        student_inserts: list[dict[str, Any]] = []
        student_updates: list[dict[str, Any]] = []
        enrollment_inserts: list[dict[str, Any]] = []
        enrollment_updates: list[dict[str, Any]] = []
        for r in plan.records:
            person = {"last_name": r.last_name, "first_name": r.first_name, "patronymic": r.patronymic}
            stored = plan.students.get(r.iin)
            if stored is None:
                student_id = uuid.uuid4()
                student_inserts.append({"id": student_id, "iin": r.iin, **person})
                person_changed = True
            else:
                student_id = stored[0]
                person_changed = stored[1:] != tuple(person.values())
                if person_changed:
                    student_updates.append({"id": student_id, **person})
            school_id = plan.school_ids[r.school_bin]
            placement = {"grade": r.grade, "class_name": r.class_name, "valid_to": r.enrolled_to}
            enrollment = plan.enrollments.get((student_id, school_id, r.enrolled_from))
            if enrollment is None:
                enrollment_inserts.append(
                    {
                        "student_id": student_id,
                        "school_id": school_id,
                        "valid_from": r.enrolled_from,
                        **placement,
                    }
                )
                placement_changed = True
            else:
                placement_changed = enrollment[1:] != tuple(placement.values())
                if placement_changed:
                    enrollment_updates.append({"id": enrollment[0], **placement})
            counts.count(new=stored is None, changed=person_changed or placement_changed)
        bulk_insert(session, Student, student_inserts)
        bulk_update(session, Student, student_updates)
        bulk_insert(session, Enrollment, enrollment_inserts)
        bulk_update(session, Enrollment, enrollment_updates)
        return counts
