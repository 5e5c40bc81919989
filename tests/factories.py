"""Small, explicit test worlds built through the ORM, and terminal keys that sign real tokens."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session

from wallet.identifiers import make_bin, make_iin
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    Menu,
    MenuDish,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
    Terminal,
)

ZONE = ZoneInfo("Asia/Almaty")
AUDIENCE = "social-wallet-meal-ledger"


def a_bin(serial: int) -> str:
    for extra in range(50):
        value = make_bin(15, 3, 4, serial * 50 + extra)
        if value:
            return value
    raise AssertionError("no BIN")


def an_iin(birth: dt.date, female: bool = False) -> str:
    for serial in range(10000):
        value = make_iin(birth, female, serial)
        if value:
            return value
    raise AssertionError("no IIN")


def uuid7(at: dt.datetime | None = None) -> uuid.UUID:
    """A UUIDv7 (time-ordered), as terminals make them."""
    ms = int((at or dt.datetime.now(dt.UTC)).timestamp() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


@dataclass
class World:
    today: dt.date
    region: Region
    school: School
    other_school: School
    supplier: Supplier
    contract: Contract
    eligible: list[Student] = field(default_factory=list)
    not_eligible: Student | None = None
    elsewhere: Student | None = None
    price: dict[str, int] = field(default_factory=dict)


def local_now() -> dt.datetime:
    return dt.datetime.now(ZONE)


def make_world(session: Session, today: dt.date | None = None, *, pupils: int = 5) -> World:
    """One region, two schools, a contract, pupils (eligible, not eligible, at another school), a serving
    day `today` with a menu, and the day before as a holiday."""
    today = today or local_now().date()
    region = Region(code="KZ-71", name_kk="Астана", name_ru="Астана")
    session.add(region)
    session.flush()
    school = School(bin=a_bin(1), name_kk="№1 мектеп", name_ru="Школа №1", region_id=region.id)
    other = School(bin=a_bin(2), name_kk="№2 мектеп", name_ru="Школа №2", region_id=region.id)
    supplier = Supplier(bin=a_bin(3), name="ТОО Ас")
    session.add_all([school, other, supplier])
    session.flush()
    year_start = dt.date(today.year if today.month >= 8 else today.year - 1, 8, 1)
    contract = Contract(number="C-1", school_id=school.id, supplier_id=supplier.id, valid_from=year_start,
                        valid_to=year_start.replace(year=year_start.year + 1, month=7, day=31))
    prices = {"breakfast": 45000, "lunch": 85000, "snack": 30000}
    contract.prices = [ContractPrice(meal_type=m, category_code="primary_grades", price_tiyn=p)
                       for m, p in prices.items()]
    session.add(contract)
    world = World(today=today, region=region, school=school, other_school=other, supplier=supplier,
                  contract=contract, price=prices)
    for n in range(pupils + 2):
        student = Student(id=uuid.uuid4(), iin=an_iin(dt.date(2017, 1, 1) + dt.timedelta(days=n)),
                          last_name=f"Тестов{n}", first_name="Алихан")
        session.add(student)
        session.flush()
        at = other if n == pupils + 1 else school
        session.add(Enrollment(student_id=student.id, school_id=at.id, grade=2, class_name="2А",
                               valid_from=year_start, valid_to=None))
        if n < pupils or n == pupils + 1:
            session.add(StudentEligibility(student_id=student.id, category_code="primary_grades",
                                           valid_from=year_start, valid_to=contract.valid_to))
        if n < pupils:
            world.eligible.append(student)
        elif n == pupils:
            world.not_eligible = student
        else:
            world.elsewhere = student
    session.add(CalendarDay(school_id=school.id, day=today, kind="serving"))
    session.add(CalendarDay(school_id=school.id, day=today - dt.timedelta(days=1), kind="holiday"))
    menu = Menu(school_id=school.id, day=today, meal_type="lunch", dishes=[
        MenuDish(position=1, name_kk="Көже", name_ru="Суп", name_en="Soup", grams=250, kcal=120,
                 allergens="gluten"),
        MenuDish(position=2, name_kk="Палау", name_ru="Плов", name_en="Pilaf", grams=200, kcal=380,
                 allergens=""),
    ])
    session.add(menu)
    session.commit()
    return world


class TerminalKey:
    """A terminal's own Ed25519 key; signs one fresh token per request, as the agent does."""

    def __init__(self, terminal_id: str = "T-test-1") -> None:
        self.terminal_id = terminal_id
        self.private = Ed25519PrivateKey.generate()

    @property
    def public_b64(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def register(self, session: Session, school: School) -> Terminal:
        terminal = Terminal(id=self.terminal_id, school_id=school.id, public_key=self.public_b64,
                            status="active", created_at=dt.datetime.now(dt.UTC))
        session.add(terminal)
        session.commit()
        return terminal

    def token(self, **overrides: Any) -> str:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {"iss": self.terminal_id, "sub": self.terminal_id, "aud": AUDIENCE,
                                  "iat": now, "exp": now + dt.timedelta(minutes=2), "jti": uuid.uuid4().hex}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm="EdDSA")

    def headers(self, **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**overrides)}"}


def meal_event(student: Student | str, seq: int, *, meal_type: str = "lunch",
               served_at: dt.datetime | None = None, event_id: uuid.UUID | None = None,
               method: str = "roster") -> dict[str, Any]:
    served = served_at or dt.datetime.now(dt.UTC)
    ref = student if isinstance(student, str) else str(student.id)
    return {"eventId": str(event_id or uuid7(served)), "deviceSeq": seq, "studentId": ref,
            "mealType": meal_type, "servedAt": served.isoformat().replace("+00:00", "Z"), "method": method}


def batch(*events: dict[str, Any], sent_at: dt.datetime | None = None) -> dict[str, Any]:
    sent = sent_at or dt.datetime.now(dt.UTC)
    return {"sentAt": sent.isoformat().replace("+00:00", "Z"), "events": list(events)}
