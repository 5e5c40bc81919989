"""Helpers for reconciliation tests: record meals through the real ingest service at chosen times, void
them, close months, and staff tokens."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import ZONE, uuid7
from wallet.ingest.events import Batch, MealEvent
from wallet.ingest.service import record_batch
from wallet.ledger.voids import void_entry
from wallet.models import CalendarDay, LedgerEntry, School, Terminal
from wallet.principals import Principal

OPERATOR = Principal(subject="op-1", role="operator")
CLOCK = dt.timedelta(minutes=15)


def local(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A moment of `day` in Asia/Almaty, as UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), ZONE).astimezone(dt.UTC)


class Recorder:
    """Records meal events for one terminal through wallet.ingest, with device sequence numbers 1, 2, 3..."""

    _counter = itertools.count(1)

    def __init__(self, session_factory: sessionmaker[Session], school: School, terminal_id: str | None = None):
        self.session_factory = session_factory
        self.terminal_id = terminal_id or f"T-rec-{next(self._counter)}"
        self.seq = 0
        with session_factory() as session:
            if session.get(Terminal, self.terminal_id) is None:
                session.add(Terminal(id=self.terminal_id, school_id=school.id, public_key="x" * 43,
                                     status="active", created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
                session.commit()

    def skip(self, count: int = 1) -> None:
        """Lose `count` sequence numbers, as a terminal that dropped events would."""
        self.seq += count

    def meals(self, served: list[tuple[Any, dt.datetime, str]], received_at: dt.datetime | None = None) -> list[int]:
        """Record (student or ref, served_at, meal type) events in one batch; returns their entry ids."""
        received = received_at or max(at for _, at, _ in served) + dt.timedelta(minutes=1)
        events = []
        for index, (student, at, meal_type) in enumerate(served):
            self.seq += 1
            ref = student if isinstance(student, str) else str(getattr(student, "id", student))
            events.append(MealEvent(index=index, event_id=uuid7(at), device_seq=self.seq, student_ref=ref,
                                    meal_type=meal_type, served_at=at, method="roster"))
        with self.session_factory() as session:
            terminal = session.get(Terminal, self.terminal_id)
            assert terminal is not None
            outcomes = record_batch(session, terminal, Batch(self.terminal_id, received, received, events),
                                    clock_tolerance=CLOCK)
            return [o.entry.id for o in outcomes if o.entry is not None]

    def meal(self, student: Any, at: dt.datetime, meal_type: str = "lunch",
             received_at: dt.datetime | None = None) -> int:
        return self.meals([(student, at, meal_type)], received_at)[0]


def void(session_factory: sessionmaker[Session], entry_id: int, at: dt.datetime) -> int:
    with session_factory() as session:
        return void_entry(session, entry_id, OPERATOR, "test void", now=at).id


def serving_days(session_factory: sessionmaker[Session], school: School, days: list[dt.date],
                 kind: str = "serving") -> None:
    with session_factory() as session:
        existing = {d for (d,) in session.execute(select(CalendarDay.day).where(CalendarDay.school_id == school.id))}
        session.add_all(CalendarDay(school_id=school.id, day=d, kind=kind) for d in days if d not in existing)
        session.commit()


def entry(session_factory: sessionmaker[Session], entry_id: int) -> LedgerEntry:
    with session_factory() as session:
        found = session.get(LedgerEntry, entry_id)
        assert found is not None
        return found


def new_id() -> str:
    return str(uuid.uuid4())


# --- a month with a little of everything -----------------------------------------------------------------

def previous_month(months_back: int = 2) -> tuple[dt.date, dt.date]:
    """(first, last) day of a month that ended at least a month ago, in Asia/Almaty."""
    today = dt.datetime.now(ZONE).date()
    year, month = today.year, today.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    first = dt.date(year, month, 1)
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)
            if (first + dt.timedelta(days=n)).weekday() < 5]


@dataclass
class Scenario:
    world: Any
    first: dt.date
    last: dt.date
    month: str
    serving: list[dt.date]
    recorder: Recorder
    meal_ids: list[int] = field(default_factory=list)
    voided: int | None = None
    void_id: int | None = None


def build_scenario(session_factory: sessionmaker[Session]) -> Scenario:
    """A past month at the world's school: every weekday a serving day; the five eligible pupils eat lunch
    on the first three serving days; one second lunch (refused), one meal of a pupil who is not eligible
    (refused), one lunch on a holiday (refused), one lost sequence number, one lunch voided, one lunch
    received two days late."""
    from tests.factories import make_world

    first, last = previous_month()
    with session_factory() as session:
        world = make_world(session, first + dt.timedelta(days=14))
    serving_days(session_factory, world.school, weekdays(first, last))
    with session_factory() as session:  # the world's own calendar has a holiday among them
        serving = sorted(session.scalars(select(CalendarDay.day).where(
            CalendarDay.school_id == world.school.id, CalendarDay.kind == "serving",
            CalendarDay.day >= first, CalendarDay.day <= last)))
    holiday = next(d for d in (first + dt.timedelta(days=n) for n in range(31)) if d.weekday() == 6)
    serving_days(session_factory, world.school, [holiday], kind="holiday")
    recorder = Recorder(session_factory, world.school, "T-scn-1")
    scenario = Scenario(world, first, last, f"{first:%Y-%m}", serving, recorder)
    for day in serving[:3]:
        scenario.meal_ids += recorder.meals([(s, local(day, 12, n), "lunch") for n, s in enumerate(world.eligible)],
                                            received_at=local(day, 15))
    recorder.meal(world.eligible[0], local(serving[0], 13), received_at=local(serving[0], 15, 1))  # second lunch
    recorder.meal(world.not_eligible, local(serving[1], 13), received_at=local(serving[1], 15, 1))
    recorder.skip()
    recorder.meal(world.eligible[1], local(holiday, 12), received_at=local(holiday, 15))
    scenario.voided = scenario.meal_ids[0]
    scenario.void_id = void(session_factory, scenario.voided, local(serving[3], 9))
    recorder.meal(world.eligible[2], local(serving[3], 12), received_at=local(serving[5], 10))  # late
    return scenario
