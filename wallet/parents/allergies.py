"""Allergies a parent records for a child; the menu marks dishes that contain them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_
from wallet.models import ALLERGENS, ChildAllergy


def normalise_allergens(values: Iterable[object]) -> list[str]:
    """Known allergen codes, each once, in the fixed order of ALLERGENS; InvalidInput for anything else."""
    values = list(values)
    unknown = [v for v in values if not isinstance(v, str) or v not in ALLERGENS]
    if unknown:
        raise InvalidInput("validation_failed", T_("Unknown allergen codes."),
                           [FieldError("allergens", T_("unknown allergen %(value)r; use one of %(codes)s", value=v,
                                                       codes=", ".join(ALLERGENS)),
                                       "unknown_allergen") for v in unknown])
    chosen = set(values)
    return [a for a in ALLERGENS if a in chosen]


def set_allergies(session: Session, parent_iin: str, child_id: uuid.UUID, allergens: Iterable[object],
                  now: dt.datetime | None = None) -> ChildAllergy:
    """Replace the child's recorded allergies (an empty list clears them). Commits."""
    codes = ",".join(normalise_allergens(allergens))
    at = now or dt.datetime.now(dt.UTC)
    for attempt in range(2):
        row = session.get(ChildAllergy, child_id, populate_existing=True)
        if row is None:
            row = ChildAllergy(student_id=child_id)
            session.add(row)
        row.allergens, row.updated_at, row.updated_by = codes, at, parent_iin
        try:
            session.commit()
            return row
        except IntegrityError:  # the other parent created the row at the same moment: update theirs
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def get_allergies(session: Session, child_id: uuid.UUID) -> ChildAllergy | None:
    return session.get(ChildAllergy, child_id)
