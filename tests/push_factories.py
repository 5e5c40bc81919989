"""Guardians and outbox rows for the push tests: who may receive which notification, worked out here by hand
(not by the rule under test). Import the fixture by its function name:
`from tests.push_factories import push_world_fixture  # noqa: F401`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest

from tests.factories import an_iin
from tests.voucher_factories import voucher_for
from wallet.models import GuardianLink, ParentNotification

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class PushWorld:
    links: dict[str, int] = field(default_factory=dict)  # name -> guardian link id
    iins: dict[int, str] = field(default_factory=dict)  # link id -> parent IIN
    expected: set[tuple[int, int]] = field(default_factory=set)  # (notification id, link id) that may go
    withheld: set[tuple[int, int]] = field(default_factory=set)


def _note(session, student, school_id: int, at: dt.datetime, *, voucher_id: uuid.UUID | None = None) -> int:
    if voucher_id is not None:
        row = ParentNotification(student_id=student.id, school_id=school_id, kind="voucher_offered",
                                 voucher_id=voucher_id, created_at=at)
    else:
        row = ParentNotification(student_id=student.id, school_id=school_id, entry_id=1000 + at.second,
                                 kind="meal", meal_type="lunch", serving_day=at.date(), served_at=at,
                                 billable=True, created_at=at)
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture(name="push_world")
def push_world_fixture(session_factory, world) -> PushWorld:  # type: ignore[no-untyped-def]
    """Two guardians for one child, one for another and for a child of the other school; a child whose
    voucher is only offered (its meals withheld, its offer not); a child without any guardian."""
    pw = PushWorld()
    kids = world.eligible
    with session_factory() as session:
        guardians = [("mother", kids[0], 1), ("father", kids[0], 2), ("guardian1", kids[1], 3),
                     ("guardian2", kids[2], 4), ("elsewhere", world.elsewhere, 5)]
        for name, kid, n in guardians:
            link = GuardianLink(parent_iin=an_iin(dt.date(1980, 1, n), female=n % 2 == 1), student_id=kid.id,
                                relation="mother" if name == "mother" else "father" if name == "father"
                                else "guardian")
            session.add(link)
            session.flush()
            pw.links[name] = link.id
            pw.iins[link.id] = link.parent_iin
        session.commit()
        offered = voucher_for(session, kids[2], world.school.id, "offered", today=world.today)
        by_kid: dict[uuid.UUID, list[int]] = {}
        for name, kid, _ in guardians:
            by_kid.setdefault(kid.id, []).append(pw.links[name])
        schools = {kid.id: world.school.id for kid in kids} | {world.elsewhere.id: world.other_school.id}
        for i in range(6):
            for kid in (kids[0], kids[1], kids[2], kids[3], world.elsewhere):
                note = _note(session, kid, schools[kid.id], NOW - dt.timedelta(minutes=30, seconds=i))
                target = pw.withheld if kid.id == kids[2].id else pw.expected
                target.update((note, link) for link in by_kid.get(kid.id, []))
        offer = _note(session, kids[2], world.school.id, NOW - dt.timedelta(minutes=5), voucher_id=offered.id)
        pw.expected.update((offer, link) for link in by_kid[kids[2].id])
        session.commit()
    return pw
