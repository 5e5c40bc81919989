"""Which voucher covers a meal: the one read the canteen side (QR tokens, ingest) needs from vouchers.

A meal on `day` at a school is covered when the pupil's voucher for that school is active now and `day`
lies within its validity. The current status decides (a suspended voucher covers nothing, even for a late
event from a day when it was still active): suspension means "stop serving on this voucher" at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from wallet.models import Voucher

COVERING_STATUS = "active"


def covers(voucher: Voucher | None, school_id: int, day: dt.date) -> bool:
    """The coverage rule on a voucher already read (ingest has the QR token's voucher by id): its current
    status is active, it is for this school, and `day` lies within its validity. The queries below select
    exactly these vouchers."""
    return (voucher is not None and voucher.status == COVERING_STATUS and voucher.school_id == school_id
            and voucher.valid_from <= day <= voucher.valid_to)


def vouchers_by_id(session: Session, voucher_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Voucher]:
    """The vouchers with these ids, whatever their state (the caller judges coverage with `covers`)."""
    ids = set(voucher_ids)
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Voucher).where(Voucher.id.in_(ids)))}


def active_voucher(session: Session, student_id: uuid.UUID, school_id: int, day: dt.date) -> Voucher | None:
    """The voucher that makes a meal of this pupil on `day` at this school covered, or None."""
    return session.scalars(
        select(Voucher).where(
            Voucher.student_id == student_id, Voucher.school_id == school_id, Voucher.status == COVERING_STATUS,
            Voucher.valid_from <= day, Voucher.valid_to >= day,
        ).order_by(Voucher.valid_from.desc()).limit(1)
    ).first()


def active_vouchers(
    session: Session, student_ids: Iterable[uuid.UUID], school_id: int, days: Iterable[dt.date]
) -> dict[tuple[uuid.UUID, dt.date], uuid.UUID]:
    """For a batch of events: (student id, day) -> the covering voucher's id, for every pair covered.

    One query for the whole batch (on PostgreSQL the ids go as one array parameter, so the statement text
    is the same whatever the batch size); pairs that are not covered are absent.
    """
    ids, day_set = sorted(set(student_ids), key=str), sorted(set(days))
    if not ids or not day_set:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        among = Voucher.student_id == any_(bindparam("ids", ids, type_=postgresql.ARRAY(Voucher.student_id.type)))
    else:
        among = Voucher.student_id.in_(ids)
    rows = session.execute(
        select(Voucher.id, Voucher.student_id, Voucher.valid_from, Voucher.valid_to).where(
            among, Voucher.school_id == school_id, Voucher.status == COVERING_STATUS,
            Voucher.valid_from <= day_set[-1], Voucher.valid_to >= day_set[0],
        )
    )
    covered: dict[tuple[uuid.UUID, dt.date], uuid.UUID] = {}
    for voucher_id, student_id, valid_from, valid_to in rows:
        for day in day_set:
            if valid_from <= day <= valid_to:
                covered.setdefault((student_id, day), voucher_id)
    return covered
