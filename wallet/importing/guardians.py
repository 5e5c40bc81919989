"""`guardians`: a parent (by IIN) linked to a pupil, keyed by parent IIN + pupil IIN. The pupil must
already exist."""

from __future__ import annotations

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
    rows_in,
    student_ids,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import GuardianLink

RELATIONS = ("mother", "father", "guardian")


@dataclass(frozen=True)
class GuardianRecord:
    line: int
    parent_iin: str
    student_iin: str
    relation: str


@dataclass
class GuardianPlan:
    records: list[GuardianRecord]
    student_ids: dict[str, uuid.UUID]
    stored: dict[tuple[str, uuid.UUID], tuple[int, str]] = field(default_factory=dict)


class Guardians(Kind[GuardianRecord, GuardianPlan]):
    name = "guardians"
    required = ("parent_iin", "student_iin", "relation")

    def parse(self, line: int, cells: Cells) -> GuardianRecord | None:
        parent, student = cells.iin("parent_iin"), cells.iin("student_iin")
        relation = cells.choice("relation", RELATIONS)
        if parent is not None and parent == student:
            cells.error("parent_iin", T_("is the same as student_iin"))
        return None if cells.errors else GuardianRecord(line, parent, student, relation)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[GuardianRecord], errors: list[RowError]) -> GuardianPlan:
        errors += find_duplicates(
            records,
            lambda r: (r.parent_iin, r.student_iin),
            lambda r: r.line,
            "student_iin",
            T_("this parent and student"),
        )
        plan = GuardianPlan(records, student_ids(session, (r.student_iin for r in records)))
        errors += [
            RowError(r.line, "student_iin", T_("no student with this IIN (import students first)"))
            for r in records
            if r.student_iin not in plan.student_ids
        ]
        for id_, parent_iin, student_id, relation in rows_in(
            session,
            (GuardianLink.id, GuardianLink.parent_iin, GuardianLink.student_id, GuardianLink.relation),
            GuardianLink.student_id,
            plan.student_ids.values(),
        ):
            plan.stored[(parent_iin, student_id)] = (id_, relation)
        return plan

    def write(self, session: Session, plan: GuardianPlan) -> Counts:
        counts = Counts()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            student_id = plan.student_ids[r.student_iin]
            stored = plan.stored.get((r.parent_iin, student_id))
            if stored is None:
                inserts.append({"parent_iin": r.parent_iin, "student_id": student_id, "relation": r.relation})
            elif stored[1] != r.relation:
                updates.append({"id": stored[0], "relation": r.relation})
            counts.count(new=stored is None, changed=stored is not None and stored[1] != r.relation)
        bulk_insert(session, GuardianLink, inserts)
        bulk_update(session, GuardianLink, updates)
        return counts
