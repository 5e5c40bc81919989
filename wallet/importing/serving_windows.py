"""`serving-windows`: the local times each meal type may be served at a school, per shift; keyed by school
BIN + meal type + shift. An empty school_bin is the programme's default for schools without rows of their
own for that meal type (wallet.evidence.windows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.evidence.windows import parse_hhmm
from wallet.importing.base import Counts, Kind, bulk_insert, bulk_update, find_duplicates, ids_by_bin, unknown_schools
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells, parse_bin
from wallet.messages import T_
from wallet.models import MEAL_TYPES, School, ServingWindow


@dataclass(frozen=True)
class WindowRecord:
    line: int
    school_bin: str | None
    meal_type: str
    shift: int
    start_minute: int
    end_minute: int


@dataclass
class WindowPlan:
    records: list[WindowRecord]
    school_ids: dict[str, int]
    stored: dict[tuple[int | None, str, int], tuple[int, int, int]] = field(default_factory=dict)


class ServingWindows(Kind[WindowRecord, WindowPlan]):
    name = "serving-windows"
    required = ("school_bin", "meal_type", "shift", "from", "to")
    optional = ()

    def parse(self, line: int, cells: Cells) -> WindowRecord | None:
        school_bin = cells.optional("school_bin", parse_bin)
        meal_type, shift = cells.choice("meal_type", MEAL_TYPES), cells.integer("shift", 1, 3)
        start, end = cells.required("from", parse_hhmm), cells.required("to", parse_hhmm)
        if start is not None and end is not None and end <= start:
            cells.error("to", T_("must be after from (a window does not cross midnight)"))
        if cells.errors:
            return None
        return WindowRecord(line, school_bin, meal_type, shift, start, end)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[WindowRecord], errors: list[RowError]) -> WindowPlan:
        errors += find_duplicates(records, lambda r: (r.school_bin, r.meal_type, r.shift), lambda r: r.line,
                                  "shift", T_("this school, meal type and shift"))
        with_school = [r for r in records if r.school_bin is not None]
        plan = WindowPlan(records, ids_by_bin(session, School, (r.school_bin for r in with_school)))
        errors += unknown_schools(with_school, plan.school_ids)
        for id_, school_id, meal_type, shift, start, end in session.execute(
            select(ServingWindow.id, ServingWindow.school_id, ServingWindow.meal_type, ServingWindow.shift,
                   ServingWindow.start_minute, ServingWindow.end_minute)
        ):
            plan.stored[(school_id, meal_type, shift)] = (id_, start, end)
        return plan

    def write(self, session: Session, plan: WindowPlan) -> Counts:
        counts = Counts()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            school_id = plan.school_ids[r.school_bin] if r.school_bin is not None else None
            stored = plan.stored.get((school_id, r.meal_type, r.shift))
            changed = stored is not None and stored[1:] != (r.start_minute, r.end_minute)
            if stored is None:
                inserts.append({"school_id": school_id, "meal_type": r.meal_type, "shift": r.shift,
                                "start_minute": r.start_minute, "end_minute": r.end_minute})
            elif changed:
                updates.append({"id": stored[0], "start_minute": r.start_minute, "end_minute": r.end_minute})
            counts.count(new=stored is None, changed=changed)
        bulk_insert(session, ServingWindow, inserts)
        bulk_update(session, ServingWindow, updates)
        return counts
