"""`calendar`: one row per school day that is not ordinary, keyed by school BIN + date. Serving days must
fall inside a school year (1 September to 31 May) and not on a Sunday."""

from __future__ import annotations

import datetime as dt
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
from wallet.models import DAY_KINDS, CalendarDay, CalendarNotice, School

SUMMER_MONTHS = (6, 7, 8)
SUNDAY = 6


def serving_day_problem(day: dt.date) -> str | None:
    """Why a date cannot be a serving day, or None when it can."""
    if day.month in SUMMER_MONTHS:
        return T_("a serving day must fall inside a school year (1 September to 31 May)")
    if day.weekday() == SUNDAY:
        return T_("a serving day cannot be a Sunday")
    return None


@dataclass(frozen=True)
class DayRecord:
    line: int
    school_bin: str
    day: dt.date
    kind: str
    note: str | None


@dataclass
class CalendarPlan:
    records: list[DayRecord]
    school_ids: dict[str, int]
    stored: dict[tuple[int, dt.date], tuple[int, str, str | None]] = field(default_factory=dict)


class Calendar(Kind[DayRecord, CalendarPlan]):
    name = "calendar"
    required = ("school_bin", "date", "kind")
    optional = ("note",)

    def parse(self, line: int, cells: Cells) -> DayRecord | None:
        school_bin, day = cells.bin("school_bin"), cells.date("date")
        kind, note = cells.choice("kind", DAY_KINDS), cells.optional_text("note", 300)
        if day is not None and kind == "serving" and (problem := serving_day_problem(day)):
            cells.error("date", problem)
        return None if cells.errors else DayRecord(line, school_bin, day, kind, note)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[DayRecord], errors: list[RowError]) -> CalendarPlan:
        errors += find_duplicates(
            records,
            lambda r: (r.school_bin, r.day),
            lambda r: r.line,
            "date",
            T_("this school and date"),
        )
        plan = CalendarPlan(records, ids_by_bin(session, School, (r.school_bin for r in records)))
        errors += unknown_schools(records, plan.school_ids)
        if records:
            first, last = min(r.day for r in records), max(r.day for r in records)
            for id_, school_id, day, kind, note in rows_in(
                session,
                (CalendarDay.id, CalendarDay.school_id, CalendarDay.day, CalendarDay.kind, CalendarDay.note),
                CalendarDay.school_id,
                plan.school_ids.values(),
                CalendarDay.day.between(first, last),
            ):
                plan.stored[(school_id, day)] = (id_, kind, note)
        return plan

    def write(self, session: Session, plan: CalendarPlan) -> Counts:
        counts = Counts()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        # When the service learnt each day's kind (append-only): a day declared closed after its meals were
        # recorded is a finding (wallet.evidence), not a silent change.
        notices: list[dict[str, Any]] = []
        now = dt.datetime.now(dt.UTC)
        for r in plan.records:
            school_id = plan.school_ids[r.school_bin]
            stored = plan.stored.get((school_id, r.day))
            changed = stored is not None and stored[1:] != (r.kind, r.note)
            if stored is None:
                inserts.append({"school_id": school_id, "day": r.day, "kind": r.kind, "note": r.note})
            elif changed:
                updates.append({"id": stored[0], "kind": r.kind, "note": r.note})
            if stored is None or stored[1] != r.kind:
                notices.append({"school_id": school_id, "day": r.day, "kind": r.kind, "notified_at": now})
            counts.count(new=stored is None, changed=changed)
        bulk_insert(session, CalendarDay, inserts)
        bulk_insert(session, CalendarNotice, notices)
        bulk_update(session, CalendarDay, updates)
        return counts
