"""The derived ceiling rows (migration 0022): eligible children per school, serving day and ground.

The ceiling of a line is the children x serving days its contract covers; the registry's half of it (who
is enrolled and eligible on which serving day, each child once a day under the first of its grounds in the
billing priority) changes only with enrollments, eligibility and the calendar, so it is derived once into
`ceiling_day_totals`, and an open month's reconciliation sums those rows against the contracts instead of
joining every enrollment to every ground and the calendar (half a second for a region).

Database triggers mark a school stale when any of the three tables changes for it; `refresh` derives the
rows of stale schools again and clears their marks; the reconciliation computes a stale school's ceiling
from the registry, so the ceiling is exact whether or not a refresh has run. `refresh` runs in
`wallet totals rebuild` and after registry imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, except_, func, insert, or_, select
from sqlalchemy.orm import Session

from wallet.ground_priority import priority_key
from wallet.models import CalendarDay, CeilingDayTotal, CeilingStaleSchool, Enrollment, School, StudentEligibility

__all__ = ["differences", "fresh_rows", "refresh", "stale_schools"]

_TOTALS, _STALE = CeilingDayTotal.__table__, CeilingStaleSchool.__table__


def fresh_rows(school_ids: list[int]) -> Any:
    """(school_id, day, category_code, children) of these schools, computed from the registry: for every
    serving day, the children enrolled and eligible that day, each under its first ground."""
    en, se, cal = Enrollment.__table__, StudentEligibility.__table__, CalendarDay.__table__
    per_child_day = (
        select(en.c.school_id, cal.c.day, func.min(priority_key(se.c.category_code)).label("key"))
        .join(se, se.c.student_id == en.c.student_id)
        .join(cal, and_(cal.c.school_id == en.c.school_id, cal.c.kind == "serving", cal.c.day >= en.c.valid_from,
                        or_(en.c.valid_to.is_(None), cal.c.day <= en.c.valid_to), cal.c.day >= se.c.valid_from,
                        cal.c.day <= se.c.valid_to))
        .where(en.c.school_id.in_(school_ids))
        .group_by(en.c.school_id, en.c.student_id, cal.c.day)
        .subquery("per_child_day")
    )
    category = func.substr(per_child_day.c.key, 3)
    return (select(per_child_day.c.school_id, per_child_day.c.day, category.label("category_code"),
                   func.count().label("children"))
            .group_by(per_child_day.c.school_id, per_child_day.c.day, category))


def stale_schools(session: Session, school_ids: Iterable[int] | None = None) -> list[int]:
    """The schools (of these, or all) whose ceiling rows do not follow from the registry now."""
    statement = select(_STALE.c.school_id).order_by(_STALE.c.school_id)
    if school_ids is not None:
        statement = statement.where(_STALE.c.school_id.in_(sorted(set(school_ids))))
    return list(session.scalars(statement))


def refresh(session: Session, also: Iterable[int] | None = None, *, everything: bool = False,
            batch: int = 200) -> int:
    """Derive the rows of every stale school again (and of the schools in `also`, or of every school with
    `everything`) and clear their marks, in the session's transaction (the caller commits). Returns how
    many schools were refreshed.

    On PostgreSQL the marks are locked first and the registry read after, at READ COMMITTED: a change
    committed before is in the new rows; the trigger of a change made meanwhile waits for the lock and marks
    the school again once this transaction ends. Only the marks read are deleted (same `changes`)."""
    ids = list(session.scalars(select(School.id).order_by(School.id))) if everything else sorted(set(also or ()))
    if ids:
        for start in range(0, len(ids), 5000):
            _mark(session, ids[start:start + 5000])
    marks = dict(session.execute(select(_STALE.c.school_id, _STALE.c.changes)
                                 .order_by(_STALE.c.school_id).with_for_update()).all())
    ids = sorted(marks)
    for start in range(0, len(ids), batch):
        part = ids[start:start + batch]
        session.execute(delete(_TOTALS).where(_TOTALS.c.school_id.in_(part)))
        session.execute(insert(_TOTALS).from_select(["school_id", "day", "category_code", "children"],
                                                    fresh_rows(part)))
        for school_id in part:
            session.execute(delete(_STALE).where(_STALE.c.school_id == school_id,
                                                 _STALE.c.changes == marks[school_id]))
    return len(ids)


def _mark(session: Session, school_ids: list[int]) -> None:
    if not school_ids:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(_STALE).values([{"school_id": i, "changes": 1} for i in school_ids])
    session.execute(statement.on_conflict_do_update(index_elements=["school_id"],
                                                    set_={"changes": _STALE.c.changes + 1}))


def differences(session: Session, school_ids: Iterable[int] | None = None, *, limit: int = 1000
                ) -> list[tuple[str, dict[str, Any]]]:
    """For `wallet totals check`: the rows of current (not stale) schools that differ from the registry,
    as ("registry", row) for a row the registry gives and the table lacks or holds otherwise, and
    ("totals", row) for the reverse; at most `limit` a side."""
    stale = set(stale_schools(session))
    ids = [i for i in (session.scalars(select(School.id)) if school_ids is None else school_ids) if i not in stale]
    if not ids:
        return []
    stored = select(_TOTALS.c.school_id, _TOTALS.c.day, _TOTALS.c.category_code, _TOTALS.c.children).where(
        _TOTALS.c.school_id.in_(ids))
    found: list[tuple[str, dict[str, Any]]] = []
    fresh = fresh_rows(ids)
    for side, statement in (("registry", except_(fresh, stored)), ("totals", except_(stored, fresh))):
        query = statement.subquery()
        for row in session.execute(select(query).order_by(*query.c).limit(limit)).mappings():
            found.append((side, {k: str(v) if k == "day" else v for k, v in row.items()}))
    return found
