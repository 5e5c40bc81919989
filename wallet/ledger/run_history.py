"""Reading verification runs back: the newest first, within a caller's scope.

A staff member sees runs of the schools in their scope (`wallet.scope`) and the runs over every school
(national runs). A national run's first mismatch may lie in a school outside the caller's scope; then its
place (school, position, entry) and message are withheld and only the fact of the mismatch is shown.
The command line (`principal=None`) sees every run in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wallet.models import School, VerificationRun
from wallet.principals import Principal
from wallet.scope import schools_in_scope

__all__ = ["RunProblem", "RunView", "last_run_per_school", "list_runs"]


@dataclass(frozen=True)
class RunProblem:
    """The first thing a run found that did not match (or why the run broke); `hidden` outside scope."""

    school_bin: str | None
    kind: str | None
    position: int | None
    entry_id: int | None
    message: str | None
    hidden: bool = False


@dataclass(frozen=True)
class RunView:
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    via: str
    actor: str
    school_bin: str | None  # None: every school
    chains_checked: int
    entries_checked: int
    checkpoints_checked: int
    chains_failed: int
    result: str
    problem: RunProblem | None
    software_version: str


def list_runs(
    session: Session, principal: Principal | None, *, school_id: int | None = None,
    before_id: int | None = None, limit: int = 50,
) -> list[RunView]:
    """Runs visible to `principal`, newest first; with `school_id`, the runs that checked that school
    (its own runs and national runs). The caller checks that `school_id` is in scope."""
    query = select(VerificationRun).order_by(VerificationRun.id.desc()).limit(limit)
    if school_id is not None:
        query = query.where(or_(VerificationRun.school_id == school_id, VerificationRun.school_id.is_(None)))
    elif principal is not None and principal.role != "operator":
        query = query.where(or_(VerificationRun.school_id.is_(None),
                                VerificationRun.school_id.in_(schools_in_scope(principal))))
    if before_id is not None:
        query = query.where(VerificationRun.id < before_id)
    return _views(session, principal, list(session.scalars(query)))


def last_run_per_school(session: Session, principal: Principal | None, school_ids: list[int]) -> dict[int, RunView]:
    """For each school, the newest run that checked it: one of its own or a national run."""
    ids = school_ids or [-1]
    own = dict(session.execute(
        select(VerificationRun.school_id, func.max(VerificationRun.id))
        .where(VerificationRun.school_id.in_(ids)).group_by(VerificationRun.school_id)
    ).all())
    national = session.scalar(select(func.max(VerificationRun.id)).where(VerificationRun.school_id.is_(None)))
    newest = {school_id: max(own.get(school_id) or 0, national or 0) for school_id in school_ids}
    wanted = {run_id for run_id in newest.values() if run_id}
    rows = list(session.scalars(select(VerificationRun).where(VerificationRun.id.in_(wanted or {-1}))))
    views = {view.id: view for view in _views(session, principal, rows)}
    return {school_id: views[run_id] for school_id, run_id in newest.items() if run_id in views}


def _views(session: Session, principal: Principal | None, rows: list[VerificationRun]) -> list[RunView]:
    bins = _bins(session, {r.school_id for r in rows} | {r.problem_school_id for r in rows})
    visible = _visible_schools(session, principal, {r.problem_school_id for r in rows})
    return [_view(row, bins, visible) for row in rows]


def _view(row: VerificationRun, bins: dict[int, str], visible: set[int] | None) -> RunView:
    problem = None
    if row.problem is not None:
        hidden = visible is not None and row.problem_school_id is not None and row.problem_school_id not in visible
        problem = (RunProblem(None, None, None, None, None, hidden=True) if hidden else RunProblem(
            bins.get(row.problem_school_id) if row.problem_school_id is not None else None,
            row.problem_kind, row.problem_position, row.problem_entry_id, row.problem))
    return RunView(
        id=row.id, started_at=row.started_at, finished_at=row.finished_at, via=row.via, actor=row.actor,
        school_bin=bins.get(row.school_id) if row.school_id is not None else None,
        chains_checked=row.chains_checked, entries_checked=row.entries_checked,
        checkpoints_checked=row.checkpoints_checked, chains_failed=row.chains_failed, result=row.result,
        problem=problem, software_version=row.software_version,
    )


def _bins(session: Session, school_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in school_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(School.id, School.bin).where(School.id.in_(ids))).all())


def _visible_schools(
    session: Session, principal: Principal | None, school_ids: Iterable[int | None]
) -> set[int] | None:
    """Which of these schools the principal may see; None when it may see every school."""
    if principal is None or principal.role == "operator":
        return None
    ids = {i for i in school_ids if i is not None}
    if not ids:
        return set()
    return set(session.scalars(select(School.id).where(School.id.in_(ids), School.id.in_(schools_in_scope(principal)))))
