"""The database itself refuses bad rows: one test per table constraint, inserting through the ORM."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.identifiers import make_bin, make_iin
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    EligibilityCategory,
    Enrollment,
    GuardianLink,
    Menu,
    MenuDish,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
    Terminal,
)

NOW = dt.datetime(2025, 9, 1, 4, 0, tzinfo=dt.UTC)
SEPT_1 = dt.date(2025, 9, 1)
MAY_31 = dt.date(2026, 5, 31)


def first_valid(make: Callable[[int], str | None], start: int) -> str:
    serial = start
    while (value := make(serial)) is None:
        serial += 1
    return value


BIN_A = first_valid(lambda n: make_bin(2010, 1, 4, n), 10)
BIN_B = first_valid(lambda n: make_bin(2010, 1, 4, n), 20)
IIN_CHILD = first_valid(lambda n: make_iin(dt.date(2016, 5, 5), False, n), 10)
IIN_CHILD_2 = first_valid(lambda n: make_iin(dt.date(2016, 5, 5), True, n), 20)
IIN_PARENT = first_valid(lambda n: make_iin(dt.date(1987, 2, 3), True, n), 30)


@dataclass
class World:
    """One valid row of each parent table, already committed."""

    region: Region
    school: School
    supplier: Supplier
    contract: Contract
    student: Student
    menu: Menu


@pytest.fixture
def parents(session_factory) -> World:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        region = Region(code="KZ-TST", name_kk="Облыс", name_ru="Область")
        school = School(bin=BIN_A, name_kk="Мектеп", name_ru="Школа", region=region, timezone="Asia/Almaty")
        supplier = Supplier(bin=BIN_A, name="Caterer")
        session.add_all([region, school, supplier])
        session.flush()
        contract = Contract(number="C-1", school_id=school.id, supplier_id=supplier.id, valid_from=SEPT_1,
                            valid_to=MAY_31)
        student = Student(iin=IIN_CHILD, last_name="Surname", first_name="Given")
        menu = Menu(school_id=school.id, day=SEPT_1, meal_type="lunch")
        session.add_all([contract, student, menu])
        session.flush()
        session.add_all([
            ContractPrice(contract_id=contract.id, meal_type="lunch", category_code="primary_grades", price_tiyn=1),
            Enrollment(student_id=student.id, school_id=school.id, grade=3, class_name="3А", valid_from=SEPT_1),
            StudentEligibility(student_id=student.id, category_code="orphan", valid_from=SEPT_1, valid_to=MAY_31),
            GuardianLink(parent_iin=IIN_PARENT, student_id=student.id, relation="mother"),
            CalendarDay(school_id=school.id, day=SEPT_1, kind="serving"),
            MenuDish(menu_id=menu.id, position=1, name_kk="а", name_ru="б", name_en="c", grams=1, kcal=0),
        ])
        session.commit()
        return World(region, school, supplier, contract, student, menu)


def contract_price(w: World, **changes: object) -> ContractPrice:
    values: dict[str, object] = {
        "contract_id": w.contract.id, "meal_type": "breakfast", "category_code": "orphan", "price_tiyn": 50000,
    }
    return ContractPrice(**(values | changes))


def enrollment(w: World, **changes: object) -> Enrollment:
    values: dict[str, object] = {
        "student_id": w.student.id, "school_id": w.school.id, "grade": 4, "class_name": "4А",
        "valid_from": dt.date(2026, 1, 10),
    }
    return Enrollment(**(values | changes))


def eligibility(w: World, **changes: object) -> StudentEligibility:
    values: dict[str, object] = {
        "student_id": w.student.id, "category_code": "large_family", "valid_from": SEPT_1, "valid_to": MAY_31,
    }
    return StudentEligibility(**(values | changes))


def dish(w: World, **changes: object) -> MenuDish:
    values: dict[str, object] = {
        "menu_id": w.menu.id, "position": 2, "name_kk": "а", "name_ru": "б", "name_en": "c", "grams": 150, "kcal": 90,
    }
    return MenuDish(**(values | changes))


def school(w: World, **changes: object) -> School:
    values: dict[str, object] = {
        "bin": BIN_B, "name_kk": "Мектеп 2", "name_ru": "Школа 2", "region_id": w.region.id, "timezone": "Asia/Almaty",
    }
    return School(**(values | changes))


def contract(w: World, **changes: object) -> Contract:
    values: dict[str, object] = {
        "number": "C-2", "school_id": w.school.id, "supplier_id": w.supplier.id,
        "valid_from": dt.date(2026, 9, 1), "valid_to": dt.date(2027, 5, 31),
    }
    return Contract(**(values | changes))


def guardian(w: World, **changes: object) -> GuardianLink:
    values: dict[str, object] = {"parent_iin": IIN_CHILD_2, "student_id": w.student.id, "relation": "father"}
    return GuardianLink(**(values | changes))


def terminal(w: World, **changes: object) -> Terminal:
    values: dict[str, object] = {
        "id": "T-1", "school_id": w.school.id, "public_key": "k" * 43, "status": "active", "created_at": NOW,
    }
    return Terminal(**(values | changes))


VALID: dict[str, Callable[[World], object]] = {
    "eligibility_categories": lambda w: EligibilityCategory(code="test_ground", name_kk="a", name_ru="b", name_en="c"),
    "regions": lambda w: Region(code="KZ-OTH", name_kk="a", name_ru="b"),
    "schools": school,
    "suppliers": lambda w: Supplier(bin=BIN_B, name="Other"),
    "contracts": contract,
    "contract_prices": contract_price,
    "students": lambda w: Student(iin=IIN_CHILD_2, last_name="A", first_name="B"),
    "enrollments": enrollment,
    "student_eligibility": eligibility,
    "guardian_links": guardian,
    "calendar_days": lambda w: CalendarDay(school_id=w.school.id, day=dt.date(2025, 9, 2), kind="serving"),
    "menus": lambda w: Menu(school_id=w.school.id, day=SEPT_1, meal_type="breakfast"),
    "menu_dishes": dish,
    "terminals": terminal,
}

INVALID: dict[str, Callable[[World], object]] = {
    # eligibility categories
    "category code unique": lambda w: EligibilityCategory(code="orphan", name_kk="a", name_ru="b", name_en="c"),
    # regions
    "region code unique": lambda w: Region(code="KZ-TST", name_kk="a", name_ru="b"),
    # schools
    "school bin unique": lambda w: school(w, bin=BIN_A),
    "school bin length": lambda w: school(w, bin=BIN_B[:11]),
    "school region exists": lambda w: school(w, region_id=w.region.id + 1000),
    "school name required": lambda w: school(w, name_ru=None),
    # suppliers
    "supplier bin unique": lambda w: Supplier(bin=BIN_A, name="Copy"),
    "supplier bin length": lambda w: Supplier(bin="1234567890", name="Short"),
    # contracts
    "contract number unique": lambda w: contract(w, number="C-1"),
    "contract period order": lambda w: contract(w, valid_from=MAY_31, valid_to=SEPT_1),
    "contract school exists": lambda w: contract(w, school_id=w.school.id + 1000),
    "contract supplier exists": lambda w: contract(w, supplier_id=w.supplier.id + 1000),
    # contract prices
    "price positive (zero)": lambda w: contract_price(w, price_tiyn=0),
    "price positive (negative)": lambda w: contract_price(w, price_tiyn=-100),
    "price meal type known": lambda w: contract_price(w, meal_type="dinner"),
    "price category exists": lambda w: contract_price(w, category_code="pensioners"),
    "price line unique": lambda w: contract_price(w, meal_type="lunch", category_code="primary_grades"),
    "price contract exists": lambda w: contract_price(w, contract_id=w.contract.id + 1000),
    # students
    "student iin unique": lambda w: Student(iin=IIN_CHILD, last_name="A", first_name="B"),
    "student iin length": lambda w: Student(iin=IIN_CHILD_2[:11], last_name="A", first_name="B"),
    # enrollments
    "enrollment grade 13": lambda w: enrollment(w, grade=13),
    "enrollment grade -1": lambda w: enrollment(w, grade=-1),
    "enrollment period order": lambda w: enrollment(w, valid_to=dt.date(2026, 1, 9)),
    "enrollment unique": lambda w: enrollment(w, valid_from=SEPT_1),
    "enrollment student exists": lambda w: enrollment(w, student_id=uuid.uuid4()),
    "enrollment school exists": lambda w: enrollment(w, school_id=w.school.id + 1000),
    # eligibility
    "eligibility period order": lambda w: eligibility(w, valid_from=MAY_31, valid_to=SEPT_1),
    "eligibility unique": lambda w: eligibility(w, category_code="orphan"),
    "eligibility category exists": lambda w: eligibility(w, category_code="pensioners"),
    "eligibility student exists": lambda w: eligibility(w, student_id=uuid.uuid4()),
    # guardian links
    "guardian link unique": lambda w: guardian(w, parent_iin=IIN_PARENT, relation="guardian"),
    "guardian relation known": lambda w: guardian(w, relation="aunt"),
    "guardian iin length": lambda w: guardian(w, parent_iin=IIN_CHILD_2[:10]),
    "guardian student exists": lambda w: guardian(w, student_id=uuid.uuid4()),
    # calendar
    "calendar kind known": lambda w: CalendarDay(school_id=w.school.id, day=dt.date(2025, 9, 2), kind="strike"),
    "calendar day unique": lambda w: CalendarDay(school_id=w.school.id, day=SEPT_1, kind="holiday"),
    "calendar school exists": lambda w: CalendarDay(school_id=w.school.id + 1000, day=SEPT_1, kind="serving"),
    # menus
    "menu meal type known": lambda w: Menu(school_id=w.school.id, day=SEPT_1, meal_type="dinner"),
    "menu unique": lambda w: Menu(school_id=w.school.id, day=SEPT_1, meal_type="lunch"),
    "menu school exists": lambda w: Menu(school_id=w.school.id + 1000, day=SEPT_1, meal_type="lunch"),
    # menu dishes
    "dish grams 0": lambda w: dish(w, grams=0),
    "dish grams negative": lambda w: dish(w, grams=-5),
    "dish kcal negative": lambda w: dish(w, kcal=-1),
    "dish position 0": lambda w: dish(w, position=0),
    "dish position unique": lambda w: dish(w, position=1),
    "dish menu exists": lambda w: dish(w, menu_id=w.menu.id + 1000),
    # terminals
    "terminal status known": lambda w: terminal(w, status="lost"),
    "terminal school exists": lambda w: terminal(w, school_id=w.school.id + 1000),
}


def insert(session_factory, row: object) -> None:  # type: ignore[no-untyped-def]
    session: Session
    with session_factory() as session:
        session.add(row)
        session.commit()


@pytest.mark.parametrize("table", list(VALID))
def test_a_valid_row_is_accepted(session_factory, parents: World, table: str) -> None:  # type: ignore[no-untyped-def]
    """The baseline every refusal below departs from by one value."""
    row = VALID[table](parents)
    assert getattr(row, "__tablename__", None) == table
    insert(session_factory, row)


@pytest.mark.parametrize("case", list(INVALID))
def test_the_database_refuses(session_factory, parents: World, case: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        insert(session_factory, INVALID[case](parents))


def test_every_baseline_names_a_real_table() -> None:
    from wallet.models import Base

    assert set(VALID) <= set(Base.metadata.tables)
