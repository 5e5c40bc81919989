"""The programme's rule of which meals need a voucher: one rule for every identification method.

A pupil's voucher is the one of the serving day's school year at the school (`vouchers` holds one per pupil,
school and year). The rule, recorded in docs/decisions.md ("Coverage for every identification method"):

- no voucher for that school year: covered, as before vouchers existed (the consent rule reads such a
  child the same way); once an offer is made, the rule below applies;
- an active voucher whose validity holds the day: covered;
- a category that needs no voucher (`VOUCHER_FREE_CATEGORIES`: every pupil of grades 1-4 eats free by law):
  covered unless the family said no (declined, withdrawn) or the voucher is suspended; an unanswered offer
  (offered, accepted before its validity began, lapsed) does not take the meal away;
- any other (targeted) category: only an active voucher covers; an unanswered offer covers nothing, since
  the targeted ground is a statement about the family that the family must accept, with consent.

A QR meal is judged on the token's own voucher (wallet.vouchers.coverage.covers), which must be active: a
token is issued only against an active voucher, so the rule there is this rule's strictest case.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.db import one_of
from wallet.models import Voucher
from wallet.vouchers.years import school_year_of

VOUCHER_FREE_CATEGORIES = frozenset({"primary_grades"})
# The family's no, or the school's stop: a meal is never covered then, whatever the category.
STOPPING_STATUSES = frozenset({"declined", "withdrawn", "suspended"})


@dataclass(frozen=True)
class VoucherState:
    status: str
    valid_from: dt.date
    valid_to: dt.date


def meal_covered(voucher: VoucherState | None, category: str, day: dt.date) -> bool:
    """Whether a meal of a pupil eligible under `category` on `day` is covered by the programme."""
    if voucher is None:
        return True
    if voucher.status == "active" and voucher.valid_from <= day <= voucher.valid_to:
        return True
    if category in VOUCHER_FREE_CATEGORIES:
        return voucher.status not in STOPPING_STATUSES
    return False


def voucher_states(session: Session, school_id: int, student_ids: Iterable[uuid.UUID],
                   days: Iterable[dt.date]) -> dict[tuple[uuid.UUID, str], VoucherState]:
    """(pupil, school year) -> its voucher's state at this school, for the school years of `days`; one query."""
    ids, years = set(student_ids), {school_year_of(d) for d in days}
    if not ids or not years:
        return {}
    rows = session.execute(
        select(Voucher.student_id, Voucher.school_year, Voucher.status, Voucher.valid_from, Voucher.valid_to)
        .where(Voucher.school_id == school_id, one_of(session, Voucher.student_id, ids),
               Voucher.school_year.in_(sorted(years)))
    )
    return {(sid, year): VoucherState(status, a, b) for sid, year, status, a, b in rows}


def school_voucher_states(session: Session, school_id: int, day: dt.date) -> dict[uuid.UUID, VoucherState]:
    """Every pupil's voucher state at this school for the school year of `day` (the roster's read)."""
    rows = session.execute(
        select(Voucher.student_id, Voucher.status, Voucher.valid_from, Voucher.valid_to)
        .where(Voucher.school_id == school_id, Voucher.school_year == school_year_of(day))
    )
    return {sid: VoucherState(status, a, b) for sid, status, a, b in rows}
