"""The allergens a school's terminals need to warn the cook, and nothing else (docs/decisions.md, "Allergen
alerts on the serving line").

Only pupils enrolled at the school in the roster's days, whose parents declared allergies, and for whom
consent holds now: a voucher of the child at this school accepted, active or suspended (the state in which
the parent accepted the processing of the child's data). No name, no IIN, no category: the roster's opaque
student id and allergen codes. A QR meal names a voucher, not a child, so the same codes are keyed by the
voucher ids of those pupils too, and the terminal still learns no child from a token.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wallet.models import ChildAllergy, Enrollment, Voucher
from wallet.vouchers.lifecycle import CONSENTED_STATUSES


def roster_allergies(session: Session, school_id: int, first: dt.date, last: dt.date) -> dict[str, Any]:
    """`allergies` (student id -> codes) and `voucherAllergies` (voucher id -> codes) for the roster."""
    enrolled = (
        select(Enrollment.student_id)
        .where(Enrollment.school_id == school_id, Enrollment.valid_from <= last,
               or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= first))
    )
    rows = session.execute(
        select(ChildAllergy.student_id, ChildAllergy.allergens, Voucher.id)
        .join(Voucher, Voucher.student_id == ChildAllergy.student_id)
        .where(ChildAllergy.student_id.in_(enrolled), ChildAllergy.allergens != "",
               Voucher.school_id == school_id, Voucher.status.in_(CONSENTED_STATUSES))
        .order_by(ChildAllergy.student_id, Voucher.id)
    )
    by_student: dict[str, list[str]] = {}
    by_voucher: dict[str, list[str]] = {}
    for student_id, allergens, voucher_id in rows:
        codes = [a for a in allergens.split(",") if a]
        by_student[_key(student_id)] = codes
        by_voucher[_key(voucher_id)] = codes
    return {"allergies": by_student, "voucherAllergies": by_voucher}


def _key(value: uuid.UUID | str) -> str:
    return str(value)
