"""The child lookup of parents' reads: a parent's children, or one child, found only through the parent's
own guardian links, in one query that looks the same whether the child does not exist or belongs to someone
else, so the answer and its timing give nothing away. With an AccessNote the read is written to the access
log (wallet.parents.access_log) by the same statement on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, not_, select
from sqlalchemy.orm import Session

from wallet.errors import NotFound
from wallet.messages import T_
from wallet.models import Enrollment, GuardianLink, School, Student
from wallet.parents.access_log import AccessNote, logged_read, with_access_log
from wallet.vouchers.consent_rule import consent_required, consent_withheld

DEFAULT_ZONE = "Asia/Almaty"


class ChildNotFound(NotFound):
    """No child with this id among the caller's children (whether or not it exists)."""


def child_not_found() -> ChildNotFound:
    return ChildNotFound("child_not_found", T_("No child with this id is linked to you."))


@dataclass(frozen=True)
class SchoolRef:
    id: int
    bin: str
    name_kk: str
    name_ru: str
    timezone: str


@dataclass(frozen=True)
class Placement:
    """An enrollment: a school, a class, a span of dates (end inclusive, open when None)."""

    school: SchoolRef
    grade: int
    class_name: str
    valid_from: dt.date
    valid_to: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Child:
    id: uuid.UUID
    first_name: str
    last_name: str
    relation: str
    placements: tuple[Placement, ...]
    today: dt.date
    current: Placement | None  # the enrollment covering today, else the latest one

    @property
    def school(self) -> SchoolRef | None:
        return self.current.school if self.current else None

    @property
    def enrolled_today(self) -> bool:
        return self.current is not None and self.current.covers(self.today)

    def placement_on(self, day: dt.date) -> Placement | None:
        return next((p for p in self.placements if p.covers(day)), self.current)


# The hot reads are Core statements built once, with bound parameters, run on the session's connection: a
# parent's read costs a few round trips and little Python (tests/bench/bench_parent_reads.py).
_links, _students, _enrollments, _schools = (
    GuardianLink.__table__, Student.__table__, Enrollment.__table__, School.__table__)

_CHILDREN = (
    select(_links.c.relation, _students.c.id, _students.c.first_name, _students.c.last_name,
           _enrollments.c.grade, _enrollments.c.class_name, _enrollments.c.valid_from, _enrollments.c.valid_to,
           _schools.c.id, _schools.c.bin, _schools.c.name_kk, _schools.c.name_ru, _schools.c.timezone)
    .select_from(
        _links.join(_students, _students.c.id == _links.c.student_id)
        .outerjoin(_enrollments, _enrollments.c.student_id == _students.c.id)
        .outerjoin(_schools, _schools.c.id == _enrollments.c.school_id))
    .where(_links.c.parent_iin == bindparam("parent_iin"))
)
_ONE_CHILD = _CHILDREN.where(_links.c.student_id == bindparam("child_id"))

_CHILDREN_LOGGED = with_access_log(_CHILDREN, _links.c.parent_iin == bindparam("parent_iin"))
_THE_LINK = and_(_links.c.parent_iin == bindparam("parent_iin"), _links.c.student_id == bindparam("child_id"))
_ONE_CHILD_LOGGED = with_access_log(_ONE_CHILD, _THE_LINK)
# With the consent rule (wallet.vouchers.consent_rule) as a last column, and the read logged only when the
# rule lets the child's data be shown: a refused read is not a read.
ONE_CHILD_CONSENT = _ONE_CHILD.add_columns(consent_withheld(_students.c.id).label("withheld"))
CONSENT_GATE = and_(_THE_LINK, not_(consent_withheld(_links.c.student_id)))
_ONE_CHILD_CONSENT_LOGGED = with_access_log(ONE_CHILD_CONSENT, CONSENT_GATE)


def local_today(zone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(zone)).date()


def assemble_children(rows: Iterable, now: dt.datetime) -> list[Child]:  # type: ignore[type-arg]
    by_child: dict[uuid.UUID, tuple[tuple, list[Placement]]] = {}  # type: ignore[type-arg]
    for row in rows:
        relation, sid, first, last, grade, class_name, vfrom, vto, school_id, bin_, kk, ru, zone = row
        _, placements = by_child.setdefault(sid, ((relation, first, last), []))
        if school_id is not None:
            placements.append(Placement(SchoolRef(school_id, bin_, kk, ru, zone), grade, class_name, vfrom, vto))
    children = []
    for sid, ((relation, first, last), placements) in by_child.items():
        placements.sort(key=lambda p: p.valid_from, reverse=True)
        zone = placements[0].school.timezone if placements else DEFAULT_ZONE
        today = local_today(zone, now)
        current = next((p for p in placements if p.covers(today)), placements[0] if placements else None)
        if current is not None and current.school.timezone != zone:
            today = local_today(current.school.timezone, now)
        children.append(Child(id=sid, first_name=first, last_name=last, relation=relation,
                              placements=tuple(placements), today=today, current=current))
    children.sort(key=lambda c: (c.last_name, c.first_name, str(c.id)))
    return children


def list_children(session: Session, parent_iin: str, now: dt.datetime, log: AccessNote | None = None) -> list[Child]:
    """The parent's children; with `log`, each one found is written to the access log (see find_child)."""
    rows = logged_read(session, _CHILDREN, _CHILDREN_LOGGED, {"parent_iin": parent_iin}, log, now)
    return assemble_children(rows, now)


def find_child(session: Session, parent_iin: str, child_id: uuid.UUID | None, now: dt.datetime,
               log: AccessNote | None = None, *, consent: bool = False) -> Child:
    """The parent's child with this id; ChildNotFound otherwise (also for a None id: a malformed one).

    With `log`, the read is written to the access log when (and only when) the child is found: on
    PostgreSQL by the lookup statement itself, elsewhere right after it. Validate the request first.

    With `consent`, a child of the parent whose data the consent rule withholds (vouchers, but no accepted
    consent: wallet.vouchers.consent_rule) is Forbidden `consent_required`, checked by the same statement,
    and its read is not logged.
    """
    if child_id is None:
        raise child_not_found()
    params = {"parent_iin": parent_iin, "child_id": child_id}
    if not consent:
        rows = logged_read(session, _ONE_CHILD, _ONE_CHILD_LOGGED, params, log, now)
    else:
        rows = logged_read(session, ONE_CHILD_CONSENT, _ONE_CHILD_CONSENT_LOGGED, params, log, now, gated=True)
        if rows and rows[0][-1]:
            raise consent_required()
        rows = [row[:-1] for row in rows]
    if not rows:
        raise child_not_found()
    return assemble_children(rows, now)[0]
