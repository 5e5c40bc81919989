"""`eligibility`: a pupil's entitlement on one ground for a span of dates, keyed by IIN + category +
valid_from. The pupil must already exist; the category must be a row of `eligibility_categories`."""

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
    category_codes,
    find_duplicates,
    rows_in,
    student_ids,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import StudentEligibility


@dataclass(frozen=True)
class EligibilityRecord:
    line: int
    iin: str
    category: str
    valid_from: dt.date
    valid_to: dt.date


@dataclass
class EligibilityPlan:
    records: list[EligibilityRecord]
    student_ids: dict[str, uuid.UUID]
    stored: dict[tuple[uuid.UUID, str, dt.date], tuple[int, dt.date]] = field(default_factory=dict)


class Eligibility(Kind[EligibilityRecord, EligibilityPlan]):
    name = "eligibility"
    required = ("iin", "category", "valid_from", "valid_to")

    def parse(self, line: int, cells: Cells) -> EligibilityRecord | None:
        iin, category = cells.iin("iin"), cells.text("category", 40)
        valid_from, valid_to = cells.date("valid_from"), cells.date("valid_to")
        cells.period("valid_from", "valid_to", valid_from, valid_to)
        return None if cells.errors else EligibilityRecord(line, iin, category, valid_from, valid_to)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[EligibilityRecord], errors: list[RowError]) -> EligibilityPlan:
        errors += find_duplicates(
            records,
            lambda r: (r.iin, r.category, r.valid_from),
            lambda r: r.line,
            "valid_from",
            T_("this IIN, category and valid_from"),
        )
        categories = category_codes(session)
        plan = EligibilityPlan(records, student_ids(session, (r.iin for r in records)))
        for r in records:
            if r.iin not in plan.student_ids:
                errors.append(RowError(r.line, "iin", T_("no student with this IIN (import students first)")))
            if r.category not in categories:
                errors.append(
                    RowError(
                        r.line,
                        "category",
                        T_("unknown eligibility category %(category)s; known: %(known)s", category=repr(r.category),
                           known=", ".join(sorted(categories))),
                    )
                )
        for id_, student_id, category, valid_from, valid_to in rows_in(
            session,
            (
                StudentEligibility.id,
                StudentEligibility.student_id,
                StudentEligibility.category_code,
                StudentEligibility.valid_from,
                StudentEligibility.valid_to,
            ),
            StudentEligibility.student_id,
            plan.student_ids.values(),
        ):
            plan.stored[(student_id, category, valid_from)] = (id_, valid_to)
        return plan

    def write(self, session: Session, plan: EligibilityPlan) -> Counts:
        counts = Counts()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            student_id = plan.student_ids[r.iin]
            stored = plan.stored.get((student_id, r.category, r.valid_from))
            if stored is None:
                inserts.append(
                    {
                        "student_id": student_id,
                        "category_code": r.category,
                        "valid_from": r.valid_from,
                        "valid_to": r.valid_to,
                    }
                )
            elif stored[1] != r.valid_to:
                updates.append({"id": stored[0], "valid_to": r.valid_to})
            counts.count(new=stored is None, changed=stored is not None and stored[1] != r.valid_to)
        bulk_insert(session, StudentEligibility, inserts)
        bulk_update(session, StudentEligibility, updates)
        return counts
