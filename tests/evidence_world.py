"""A seeded month for the evidence rules: honest schools of one region, and each dishonest pattern injected at
a known place (tests/integration/test_findings_month.py)."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from tests.factories import a_bin, an_iin, uuid7
from wallet.importing import import_file
from wallet.ingest.events import Batch, MealEvent
from wallet.ingest.service import record_batch
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
    Terminal,
)

ZONE = ZoneInfo("Asia/Almaty")
PRICE = 85000
TOLERANCE = dt.timedelta(minutes=5)


def previous_month(today: dt.date) -> tuple[dt.date, dt.date]:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


@dataclass
class EvidenceWorld:
    region: Region
    schools: list[School]
    pupils: dict[int, list[Student]]  # school id -> pupils
    terminals: dict[int, Terminal]
    days: list[dt.date]
    month: str
    seq: dict[str, int] = field(default_factory=dict)
    honest_event_ids: set[str] = field(default_factory=set)
    planted: dict[str, dict[str, object]] = field(default_factory=dict)


def build(session_factory: sessionmaker[Session], *, schools: int = 3, pupils: int = 30) -> EvidenceWorld:
    first, last = previous_month(dt.datetime.now(ZONE).date())
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)
            if (first + dt.timedelta(days=n)).weekday() < 5]
    with session_factory() as session:
        region = Region(code="KZ-75", name_kk="Алматы", name_ru="Алматы")
        session.add(region)
        session.flush()
        supplier = Supplier(bin=a_bin(90), name="ТОО Дастархан")
        made = [School(bin=a_bin(100 + n), name_kk=f"№{n} мектеп", name_ru=f"Школа №{n}", region_id=region.id)
                for n in range(schools)]
        session.add_all([supplier, *made])
        session.flush()
        world = EvidenceWorld(region, made, {}, {}, days, f"{first:%Y-%m}")
        serial = 0
        for school in made:
            contract = Contract(number=f"E-{school.id}", school_id=school.id, supplier_id=supplier.id,
                                valid_from=first, valid_to=last)
            contract.prices = [ContractPrice(meal_type=m, category_code="primary_grades", price_tiyn=PRICE)
                               for m in ("breakfast", "lunch")]
            session.add(contract)
            session.add_all(CalendarDay(school_id=school.id, day=d, kind="serving") for d in days)
            terminal = Terminal(id=f"T-ev-{school.id}", school_id=school.id, public_key="x" * 43, status="active",
                                created_at=dt.datetime.now(dt.UTC))
            session.add(terminal)
            world.terminals[school.id] = terminal
            world.pupils[school.id] = []
            for _ in range(pupils):
                student = Student(id=uuid.uuid4(), iin=an_iin(dt.date(2016, 1, 1) + dt.timedelta(days=serial)),
                                  last_name=f"Адал{serial}", first_name="Айша")
                serial += 1
                session.add(student)
                session.flush()
                session.add(Enrollment(student_id=student.id, school_id=school.id, grade=2, class_name="2А",
                                       valid_from=first, valid_to=None))
                session.add(StudentEligibility(student_id=student.id, category_code="primary_grades",
                                               valid_from=first, valid_to=last))
                world.pupils[school.id].append(student)
        session.commit()
        for school in made:
            session.refresh(world.terminals[school.id])
            session.expunge(world.terminals[school.id])
    return world


def event(world: EvidenceWorld, terminal_id: str, student: Student, served: dt.datetime, method: str,
          *, seq: int | None = None, meal_type: str = "lunch") -> MealEvent:
    if seq is None:
        seq = world.seq.get(terminal_id, 0) + 1
    world.seq[terminal_id] = max(world.seq.get(terminal_id, 0), seq)
    return MealEvent(index=0, event_id=uuid7(served), device_seq=seq, student_ref=str(student.id),
                     meal_type=meal_type, served_at=served.astimezone(dt.UTC), method=method)


def post(session_factory: sessionmaker[Session], terminal: Terminal, events: list[MealEvent]) -> list[str]:
    """Record the events in batches of 100 through the real ingest; the verdicts in order."""
    verdicts: list[str] = []
    for start in range(0, len(events), 100):
        chunk = [MealEvent(i, e.event_id, e.device_seq, e.student_ref, e.meal_type, e.served_at, e.method)
                 for i, e in enumerate(events[start:start + 100])]
        now = dt.datetime.now(dt.UTC)
        with session_factory() as session:
            outcomes = record_batch(session, terminal, Batch(terminal.id, now, now, chunk), clock_tolerance=TOLERANCE)
            verdicts += [o.entry.verdict if o.entry is not None else o.status for o in outcomes]
    return verdicts


def honest_day(world: EvidenceWorld, school: School, day: dt.date, rng: random.Random,
               skip: set[uuid.UUID] = frozenset()) -> list[MealEvent]:  # type: ignore[assignment]
    """About 90% of the pupils eat lunch, 20-70 s apart from 11:30 local, 80% by card, 20% picked on the roster."""
    served = dt.datetime.combine(day, dt.time(11, 30), ZONE)
    events = []
    for student in world.pupils[school.id]:
        if student.id in skip or rng.random() > 0.9:
            continue
        served += dt.timedelta(seconds=rng.randrange(20, 70))
        events.append(event(world, world.terminals[school.id].id, student, served,
                            "card" if rng.random() < 0.8 else "roster"))
    world.honest_event_ids.update(str(e.event_id) for e in events)
    return events


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def attendance(session_factory: sessionmaker[Session], tmp: Path, school: School, marks: list[tuple[Student, dt.date]],
               name: str) -> None:
    rows = [{"school_bin": school.bin, "iin": s.iin, "date": d.isoformat(), "mark": "absent"} for s, d in marks]
    import_file(session_factory, "attendance", write_jsonl(tmp / f"{name}.jsonl", rows))
