"""Open data: a school's daily counts for a month, public, tied to the checkpoint they were computed from.

Counts are taken from the school's entries up to the school checkpoint that is a leaf of the newest
witnessed national head (the newest head when no witnesses are configured), so anyone holding the receipt
machinery can tell which signed, cosigned history the figures describe, and they do not move as late
entries arrive. Per serving day: net billable meals by meal type, refused attempts by reason, and entitled
pupils enrolled that day, and the day's billable meals under findings (wallet.evidence.holds): `holds/held`
(an open finding) and `holds/withheld` (upheld), counted among the same entries and named by the findings
and rulings taken into account (`holds`, as the payment registry names them), never which finding or pupil.
Counts from 1 to SUPPRESS_BELOW - 1 are published as null (suppressed) so that no child can be singled out;
zeros are shown.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wallet.errors import Conflict, NotFound
from wallet.evidence.holds import HoldMark, current_mark, held_meals_by_day
from wallet.messages import T_
from wallet.models import (
    CalendarDay,
    Checkpoint,
    Enrollment,
    LedgerEntry,
    NationalLogLeaf,
    School,
    StudentEligibility,
)
from wallet.months import Month
from wallet.reconciliation.writers import Column, Document, Table
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.collect import cosignatures_of, witnessed_head
from wallet.witnessing.national import latest_head

__all__ = ["OPEN_DATA_FORMAT", "SUPPRESS_BELOW", "daily_counts"]

OPEN_DATA_FORMAT = "wallet-open-daily-counts/v1"
SUPPRESS_BELOW = 5
COLUMNS = [Column("date", "date"), Column("measure"), Column("key"), Column("count", "int")]


def _shown(count: int) -> int | None:
    return None if 0 < count < SUPPRESS_BELOW else count


def daily_counts(session: Session, policy: WitnessPolicy, school_bin: str, month: Month, *,
                 holds: HoldMark | None = None) -> Document:
    school = session.scalars(select(School).where(School.bin == school_bin)).one_or_none()
    if school is None:
        raise NotFound("school_not_found", T_("no school with BIN %(school_bin)s", school_bin=school_bin))
    head = witnessed_head(session, policy) if policy.enabled else latest_head(session)
    tie = None if head is None else session.execute(
        select(NationalLogLeaf.position, Checkpoint).join(Checkpoint, Checkpoint.id == NationalLogLeaf.checkpoint_id)
        .where(Checkpoint.school_id == school.id, NationalLogLeaf.position < head.tree_size)
        .order_by(NationalLogLeaf.position.desc()).limit(1)).first()
    if head is None or tie is None:
        raise Conflict("no_witnessed_checkpoint", T_("school %(school_bin)s has no checkpoint under a witnessed head "
                                                     "yet", school_bin=school_bin))
    position, checkpoint = tie
    first, last = month.first_day, month.last_day
    rows: dict[tuple[dt.date, str, str], int] = defaultdict(int)
    entries = (select(LedgerEntry.serving_day, LedgerEntry.kind, LedgerEntry.meal_type, LedgerEntry.verdict,
                      LedgerEntry.reasons, func.count())
               .where(LedgerEntry.school_id == school.id, LedgerEntry.position <= checkpoint.tree_size,
                      LedgerEntry.serving_day >= first, LedgerEntry.serving_day <= last)
               .group_by(LedgerEntry.serving_day, LedgerEntry.kind, LedgerEntry.meal_type, LedgerEntry.verdict,
                         LedgerEntry.reasons))
    for day, kind, meal_type, verdict, reasons, n in session.execute(entries):
        if verdict == "billable":
            rows[(day, "meals", meal_type)] += n if kind == "meal" else -n
        elif kind == "meal":
            for reason in (r for r in (reasons or "").split(",") if r):
                rows[(day, "refusals", reason)] += n
    serving = set(session.scalars(select(CalendarDay.day).where(
        CalendarDay.school_id == school.id, CalendarDay.kind == "serving", CalendarDay.day >= first,
        CalendarDay.day <= last)))
    mark = holds or current_mark(session)
    held = held_meals_by_day(session, school.id, str(month), mark, checkpoint.tree_size)
    for day in sorted(serving | {d for d, _, _ in rows} | set(held)):
        rows[(day, "entitled", "pupils")] = _entitled(session, school.id, day)
        rows[(day, "holds", "held")], rows[(day, "holds", "withheld")] = held.get(day, (0, 0))
    table = [[day, measure, key, _shown(n)] for (day, measure, key), n in sorted(rows.items())]
    names = {w.name for w in policy.witnesses}
    cosigned = [c.witness_name for c in cosignatures_of(session, head) if c.witness_name in names]
    meta: list[tuple[str, Any]] = [
        ("format", OPEN_DATA_FORMAT), ("schoolBin", school.bin), ("month", str(month)),
        ("suppressedBelow", SUPPRESS_BELOW), ("schoolCheckpointSize", checkpoint.tree_size),
        ("schoolCheckpointRoot", bytes(checkpoint.root_hash).hex()), ("nationalLeafIndex", position),
        ("nationalLog", policy.log_origin), ("nationalTreeSize", head.tree_size),
        ("nationalRootHash", base64.b64encode(bytes(head.root_hash)).decode()),
        ("witnessed", bool(policy.enabled and len(cosigned) >= policy.quorum)),
        ("cosignedBy", ",".join(cosigned)), ("holds", mark.label),
    ]
    return Document(meta=meta, tables=[Table("counts", COLUMNS, table)])


def _entitled(session: Session, school_id: int, day: dt.date) -> int:
    """Pupils enrolled at the school that day with an eligibility valid that day."""
    return session.scalar(
        select(func.count(func.distinct(Enrollment.student_id)))
        .join(StudentEligibility, StudentEligibility.student_id == Enrollment.student_id)
        .where(Enrollment.school_id == school_id, Enrollment.valid_from <= day,
               or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= day),
               and_(StudentEligibility.valid_from <= day, StudentEligibility.valid_to >= day))) or 0
