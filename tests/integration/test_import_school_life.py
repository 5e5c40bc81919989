"""Importing school calendars and menus."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from wallet.identifiers import make_bin
from wallet.importing import ImportFailed, import_file
from wallet.models import Base, CalendarDay, Menu, MenuDish

SCHOOL_COLUMNS = ["bin", "name_kk", "name_ru", "region_code", "region_name_kk", "region_name_ru"]
CALENDAR_COLUMNS = ["school_bin", "date", "kind", "note"]
MENU_COLUMNS = [
    "school_bin", "date", "meal_type", "position", "name_kk", "name_ru", "name_en", "grams", "kcal", "allergens",
]


def valid_bins(count: int, serial: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        value = make_bin(2014, 2, 4, serial)
        serial += 1
        if value:
            found.append(value)
    return found


def write_csv(path: Path, columns: list[str], rows: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def counts(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def refused(session_factory, kind: str, path: Path) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    before = counts(session_factory)
    with pytest.raises(ImportFailed) as caught:
        import_file(session_factory, kind, path)
    assert counts(session_factory) == before
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def summary(report) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return report.created, report.updated, report.unchanged


@pytest.fixture
def school_bins() -> list[str]:
    return valid_bins(2)


@pytest.fixture
def with_schools(session_factory, tmp_path: Path, school_bins: list[str]):  # type: ignore[no-untyped-def]
    rows: list[dict[str, object]] = [
        {"bin": b, "name_kk": f"Мектеп {i}", "name_ru": f"Школа {i}", "region_code": "KZ-TST",
         "region_name_kk": "Облыс", "region_name_ru": "Область"}
        for i, b in enumerate(school_bins)
    ]
    import_file(session_factory, "schools", write_csv(tmp_path / "schools.csv", SCHOOL_COLUMNS, rows))
    return session_factory


# --- calendar --------------------------------------------------------------------------------------------


def day(school: str, date: str, kind: str = "serving", note: str = "") -> dict[str, object]:
    return {"school_bin": school, "date": date, "kind": kind, "note": note}


def test_calendar_happy_path_and_reimport(with_schools, tmp_path, school_bins) -> None:  # type: ignore[no-untyped-def]
    s = school_bins
    rows = [
        day(s[0], "2025-09-01"),  # Monday, first day of the school year
        day(s[0], "2025-09-06"),  # Saturday: six-day weeks exist
        day(s[0], "2025-09-07", "holiday", "Sunday"),  # a Sunday may be listed, just not as a serving day
        day(s[0], "2026-05-29"),
        day(s[1], "2025-09-01", "closure", "Heating repair"),
        day(s[1], "2025-07-15", "holiday", "Summer"),
    ]
    path = write_csv(tmp_path / "calendar.csv", CALENDAR_COLUMNS, rows)
    assert summary(import_file(with_schools, "calendar", path)) == (6, 0, 0)
    assert summary(import_file(with_schools, "calendar", path)) == (0, 0, 6)
    rows[4] = day(s[1], "2025-09-01")  # the closure was called off
    report = import_file(with_schools, "calendar", write_csv(tmp_path / "c2.csv", CALENDAR_COLUMNS, rows))
    assert summary(report) == (0, 1, 5)
    with with_schools() as session:
        kinds = sorted(session.execute(select(CalendarDay.kind, CalendarDay.note)).all())
        assert [tuple(k) for k in kinds] == [
            ("holiday", "Summer"), ("holiday", "Sunday"), ("serving", None), ("serving", None), ("serving", None),
            ("serving", None),
        ]


def test_calendar_refusals(with_schools, tmp_path, school_bins) -> None:  # type: ignore[no-untyped-def]
    s = school_bins
    unknown = valid_bins(1, serial=800)[0]
    rows = [
        day(s[0], "2025-09-01"),
        day(s[0], "2025-06-02"),  # summer
        day(s[0], "2025-08-31"),  # the day before a school year (and a Sunday)
        day(s[0], "2025-09-14"),  # Sunday
        day(s[0], "2025-09-01", "holiday"),  # same school and date again
        day(unknown, "2025-09-02"),
        day(s[1], "2025-09-02", "strike"),
        day(s[1], "2025-09-31"),
        day(s[1], "", "holiday"),
    ]
    errors = refused(with_schools, "calendar", write_csv(tmp_path / "bad.csv", CALENDAR_COLUMNS, rows))
    school_year = "a serving day must fall inside a school year (1 September to 31 May)"
    assert errors == [
        (3, "date", school_year),
        (4, "date", school_year),
        (5, "date", "a serving day cannot be a Sunday"),
        (6, "date", "this school and date repeats line 2"),
        (7, "school_bin", f"no school with BIN {unknown}"),
        (8, "kind", "unknown value 'strike'; expected one of serving, holiday, closure"),
        (9, "date", "is not a real date: '2025-09-31'"),
        (10, "date", "is required"),
    ]


# --- menus -----------------------------------------------------------------------------------------------


def dish(school: str, position: int, date: str = "2025-09-01", meal_type: str = "lunch", **changes: object):  # type: ignore[no-untyped-def]
    row: dict[str, object] = {
        "school_bin": school, "date": date, "meal_type": meal_type, "position": position,
        "name_kk": f"Тағам {position}", "name_ru": f"Блюдо {position}", "name_en": f"Dish {position}",
        "grams": 200, "kcal": 150, "allergens": "",
    }
    return row | changes


def test_menus_happy_path_and_reimport(with_schools, tmp_path, school_bins) -> None:  # type: ignore[no-untyped-def]
    s = school_bins
    rows = [
        dish(s[0], 1, allergens="milk;gluten"),
        dish(s[0], 2, allergens=" eggs ; milk;eggs "),
        dish(s[0], 1, meal_type="breakfast", kcal=0),
        dish(s[1], 1, date="2025-09-02"),
    ]
    path = write_csv(tmp_path / "menus.csv", MENU_COLUMNS, rows)
    report = import_file(with_schools, "menus", path)
    assert (report.rows, *summary(report)) == (4, 4, 0, 0)
    with with_schools() as session:
        assert session.scalar(select(func.count()).select_from(Menu)) == 3
        lunch = session.scalars(select(Menu).where(Menu.meal_type == "lunch", Menu.dishes.any())).all()
        first = next(m for m in lunch if len(m.dishes) == 2)
        assert [d.allergens for d in first.dishes] == ["gluten,milk", "eggs,milk"]
        assert first.dishes[0].allergen_list == ["gluten", "milk"]
    assert summary(import_file(with_schools, "menus", path)) == (0, 0, 4)

    rows[1]["grams"] = 250
    rows.append(dish(s[0], 3))
    report = import_file(with_schools, "menus", write_csv(tmp_path / "m2.csv", MENU_COLUMNS, rows))
    assert summary(report) == (1, 1, 3)
    with with_schools() as session:
        assert session.scalar(select(func.count()).select_from(Menu)) == 3
        assert session.scalar(select(func.count()).select_from(MenuDish)) == 5


def test_menus_refusals(with_schools, tmp_path, school_bins) -> None:  # type: ignore[no-untyped-def]
    s = school_bins
    unknown = valid_bins(1, serial=800)[0]
    rows = [
        dish(s[0], 1),
        dish(s[0], 2, allergens="milk;shellfish;chocolate"),
        dish(s[0], 3, meal_type="dinner"),
        dish(s[0], 4, grams=0, kcal=-1),
        dish(s[0], 1),
        dish(unknown, 1),
        dish(s[1], 0, date="2025/09/01"),
        dish(s[1], 1, name_en=""),
    ]
    errors = refused(with_schools, "menus", write_csv(tmp_path / "bad.csv", MENU_COLUMNS, rows))
    assert errors[0][:2] == (3, "allergens")
    assert errors[0][2].startswith("unknown code(s) chocolate, shellfish; expected codes from gluten, crustaceans")
    assert errors[1:] == [
        (4, "meal_type", "unknown value 'dinner'; expected one of breakfast, lunch, snack"),
        (5, "grams", "must be at least 1"),
        (5, "kcal", "must be at least 0"),
        (6, "position", "this school, date, meal type and position repeats line 2"),
        (7, "school_bin", f"no school with BIN {unknown}"),
        (8, "date", "must be a date as YYYY-MM-DD, got '2025/09/01'"),
        (8, "position", "must be at least 1"),
        (9, "name_en", "is required"),
    ]
