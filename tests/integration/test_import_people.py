"""Importing students (with enrollments), eligibility and guardian links."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from wallet.identifiers import make_bin, make_iin
from wallet.importing import ImportFailed, import_file
from wallet.importing.students import Students
from wallet.models import Base, Enrollment, GuardianLink, Student, StudentEligibility

SCHOOL_COLUMNS = ["bin", "name_kk", "name_ru", "region_code", "region_name_kk", "region_name_ru"]
STUDENT_COLUMNS = [
    "iin", "last_name", "first_name", "patronymic", "school_bin", "grade", "class_name", "enrolled_from",
    "enrolled_to",
]
ELIGIBILITY_COLUMNS = ["iin", "category", "valid_from", "valid_to"]
GUARDIAN_COLUMNS = ["parent_iin", "student_iin", "relation"]


def valid_bins(count: int, serial: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        value = make_bin(2009, 11, 4, serial)
        serial += 1
        if value:
            found.append(value)
    return found


def valid_iins(count: int, birth: dt.date = dt.date(2016, 3, 14), serial: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        value = make_iin(birth, female=serial % 2 == 0, serial=serial % 10000)
        serial += 1
        if value and value not in found:
            found.append(value)
    return found


def bad_check_digit(identifier: str) -> str:
    return identifier[:11] + str((int(identifier[11]) + 1) % 10)


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


def student(iin: str, school: str, n: int = 1, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "iin": iin, "last_name": f"Surname{n}", "first_name": f"Given{n}", "patronymic": "",
        "school_bin": school, "grade": 3, "class_name": "3Б", "enrolled_from": "2025-09-01", "enrolled_to": "",
    }
    return row | changes


@pytest.fixture
def school_bins() -> list[str]:
    return valid_bins(2)


@pytest.fixture
def pupils() -> list[str]:
    return valid_iins(4)


@pytest.fixture
def with_schools(session_factory, tmp_path: Path, school_bins: list[str]):  # type: ignore[no-untyped-def]
    rows: list[dict[str, object]] = [
        {"bin": b, "name_kk": f"Мектеп {i}", "name_ru": f"Школа {i}", "region_code": "KZ-TST",
         "region_name_kk": "Облыс", "region_name_ru": "Область"}
        for i, b in enumerate(school_bins)
    ]
    import_file(session_factory, "schools", write_csv(tmp_path / "schools.csv", SCHOOL_COLUMNS, rows))
    return session_factory


@pytest.fixture
def with_students(with_schools, tmp_path: Path, school_bins, pupils):  # type: ignore[no-untyped-def]
    rows = [student(iin, school_bins[0], n) for n, iin in enumerate(pupils)]
    import_file(with_schools, "students", write_csv(tmp_path / "students.csv", STUDENT_COLUMNS, rows))
    return with_schools


# --- students --------------------------------------------------------------------------------------------


def test_students_happy_path_creates_student_and_enrollment(with_schools, tmp_path, school_bins, pupils) -> None:  # type: ignore[no-untyped-def]
    rows = [
        student(pupils[0], school_bins[0], 0, patronymic="Patronym0"),
        student(pupils[1], school_bins[1], 1, grade=0, class_name="0А", enrolled_to="2026-05-31"),
    ]
    path = write_csv(tmp_path / "students.csv", STUDENT_COLUMNS, rows)
    report = import_file(with_schools, "students", path)
    assert (report.rows, *summary(report)) == (2, 2, 0, 0)
    with with_schools() as session:
        first = session.scalars(select(Student).where(Student.iin == pupils[0])).one()
        assert (first.last_name, first.first_name, first.patronymic) == ("Surname0", "Given0", "Patronym0")
        second = session.scalars(select(Student).where(Student.iin == pupils[1])).one()
        assert second.patronymic is None  # an empty optional cell means none
        enrollment = session.scalars(select(Enrollment).where(Enrollment.student_id == second.id)).one()
        assert (enrollment.grade, enrollment.class_name, enrollment.valid_from, enrollment.valid_to) == (
            0, "0А", dt.date(2025, 9, 1), dt.date(2026, 5, 31),
        )
    assert summary(import_file(with_schools, "students", path)) == (0, 0, 2)


def test_students_updates_and_new_enrollments(with_students, tmp_path, school_bins, pupils) -> None:  # type: ignore[no-untyped-def]
    rows = [
        student(pupils[0], school_bins[0], 0, class_name="3В"),  # placement changed
        student(pupils[1], school_bins[0], 1, last_name="Renamed"),  # person changed
        student(pupils[2], school_bins[1], 2, enrolled_from="2026-01-12"),  # moved: a new enrollment
        student(pupils[3], school_bins[0], 3),  # as before
    ]
    report = import_file(with_students, "students", write_csv(tmp_path / "again.csv", STUDENT_COLUMNS, rows))
    assert summary(report) == (0, 3, 1)
    with with_students() as session:
        assert session.scalar(select(func.count()).select_from(Student)) == 4
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 5
        moved = session.scalar(select(Student.id).where(Student.iin == pupils[2]))
        spans = session.execute(
            select(Enrollment.valid_from, Enrollment.valid_to)
            .where(Enrollment.student_id == moved).order_by(Enrollment.valid_from)
        ).all()
        assert [tuple(s) for s in spans] == [(dt.date(2025, 9, 1), None), (dt.date(2026, 1, 12), None)]
        assert session.scalar(select(Enrollment.class_name).join(Student).where(Student.iin == pupils[0])) == "3В"


def test_students_refusals(with_schools, tmp_path, school_bins, pupils) -> None:  # type: ignore[no-untyped-def]
    unknown_school = valid_bins(1, serial=600)[0]
    bad_date_iin = "160231500017"  # 31 February
    rows = [
        student(pupils[0], school_bins[0], 0),
        student(bad_check_digit(pupils[1]), school_bins[0], 1),
        student(pupils[0], school_bins[1], 2),
        student(pupils[2], unknown_school, 3),
        student(pupils[3], school_bins[0], 4, grade=13, enrolled_from="2025-9-1"),
        student(bad_date_iin, school_bins[0], 5, grade="three", last_name=""),
        student(valid_iins(1, serial=99)[0], school_bins[0], 6, enrolled_to="2025-08-31"),
    ]
    errors = refused(with_schools, "students", write_csv(tmp_path / "bad.csv", STUDENT_COLUMNS, rows))
    assert errors[0] == (3, "iin", "IIN check digit does not match")
    assert errors[1] == (4, "iin", "IIN repeats line 2")
    assert errors[2] == (5, "school_bin", f"no school with BIN {unknown_school}")
    assert errors[3] == (6, "grade", "must be between 0 and 12, got 13")
    assert errors[4] == (6, "enrolled_from", "must be a date as YYYY-MM-DD, got '2025-9-1'")
    assert errors[5][:2] == (7, "iin")
    assert errors[6:] == [
        (7, "last_name", "is required"),
        (7, "grade", "must be a whole number, got 'three'"),
        (8, "enrolled_to", "is before enrolled_from (2025-09-01)"),
    ]
    assert not any(pupils[0] in message for _, _, message in errors)  # IINs are not echoed back


def test_a_failing_write_leaves_nothing_behind(with_schools, tmp_path, school_bins, pupils, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = Students.write

    def write_then_fail(self, session, plan):  # type: ignore[no-untyped-def]
        original(self, session, plan)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Students, "write", write_then_fail)
    rows = [student(iin, school_bins[0], n) for n, iin in enumerate(pupils)]
    before = counts(with_schools)
    with pytest.raises(RuntimeError):
        import_file(with_schools, "students", write_csv(tmp_path / "s.csv", STUDENT_COLUMNS, rows))
    assert counts(with_schools) == before


def test_many_students_take_a_few_queries_not_one_per_row(with_schools, engine, tmp_path, school_bins) -> None:  # type: ignore[no-untyped-def]
    iins = valid_iins(3000, birth=dt.date(2015, 10, 2))
    rows = [student(iin, school_bins[n % 2], n, class_name=f"{n % 4 + 1}А") for n, iin in enumerate(iins)]
    path = write_csv(tmp_path / "many.csv", STUDENT_COLUMNS, rows)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = import_file(with_schools, "students", path)
    assert summary(report) == (3000, 0, 0)
    first_run = len(statements)
    assert first_run < 60, first_run
    statements.clear()
    assert summary(import_file(with_schools, "students", path)) == (0, 0, 3000)
    assert len(statements) < 60, len(statements)
    with with_schools() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 3000


# --- eligibility -----------------------------------------------------------------------------------------


def grant(iin: str, category: str = "primary_grades", valid_from: str = "2025-09-01",
          valid_to: str = "2026-05-31") -> dict[str, object]:
    return {"iin": iin, "category": category, "valid_from": valid_from, "valid_to": valid_to}


def test_eligibility_happy_path_and_reimport(with_students, tmp_path, pupils) -> None:  # type: ignore[no-untyped-def]
    rows = [
        grant(pupils[0]),
        grant(pupils[0], "large_family"),
        grant(pupils[0], "primary_grades", "2026-09-01", "2027-05-31"),
        grant(pupils[1], "orphan"),
    ]
    path = write_csv(tmp_path / "eligibility.csv", ELIGIBILITY_COLUMNS, rows)
    assert summary(import_file(with_students, "eligibility", path)) == (4, 0, 0)
    assert summary(import_file(with_students, "eligibility", path)) == (0, 0, 4)
    rows[3]["valid_to"] = "2025-12-31"
    report = import_file(with_students, "eligibility", write_csv(tmp_path / "e2.csv", ELIGIBILITY_COLUMNS, rows))
    assert summary(report) == (0, 1, 3)
    with with_students() as session:
        stored = session.execute(
            select(StudentEligibility.category_code, StudentEligibility.valid_to)
            .join(Student).where(Student.iin == pupils[1])
        ).all()
        assert [tuple(r) for r in stored] == [("orphan", dt.date(2025, 12, 31))]


def test_eligibility_refusals(with_students, tmp_path, pupils) -> None:  # type: ignore[no-untyped-def]
    stranger = valid_iins(1, serial=4321)[0]
    rows = [
        grant(pupils[0]),
        grant(stranger),
        grant(pupils[1], "pensioners"),
        grant(pupils[0]),
        grant(pupils[2], valid_to=""),
        grant(pupils[2], valid_from="2025-13-01"),
        grant(bad_check_digit(pupils[3])),
    ]
    errors = refused(with_students, "eligibility", write_csv(tmp_path / "bad.csv", ELIGIBILITY_COLUMNS, rows))
    assert [(line, column) for line, column, _ in errors] == [
        (3, "iin"), (4, "category"), (5, "valid_from"), (6, "valid_to"), (7, "valid_from"), (8, "iin"),
    ]
    assert errors[0][2] == "no student with this IIN (import students first)"
    assert errors[1][2].startswith("unknown eligibility category 'pensioners'")
    assert errors[2][2] == "this IIN, category and valid_from repeats line 2"
    assert errors[3][2] == "is required"
    assert errors[4][2] == "is not a real date: '2025-13-01'"


# --- guardians -------------------------------------------------------------------------------------------


def test_guardians_happy_path_and_reimport(with_students, tmp_path, pupils) -> None:  # type: ignore[no-untyped-def]
    mother, father = valid_iins(2, birth=dt.date(1988, 7, 21))
    rows: list[dict[str, object]] = [
        {"parent_iin": mother, "student_iin": pupils[0], "relation": "mother"},
        {"parent_iin": father, "student_iin": pupils[0], "relation": "father"},
        {"parent_iin": mother, "student_iin": pupils[1], "relation": "mother"},
    ]
    path = write_csv(tmp_path / "guardians.csv", GUARDIAN_COLUMNS, rows)
    assert summary(import_file(with_students, "guardians", path)) == (3, 0, 0)
    assert summary(import_file(with_students, "guardians", path)) == (0, 0, 3)
    rows[1]["relation"] = "guardian"
    report = import_file(with_students, "guardians", write_csv(tmp_path / "g2.csv", GUARDIAN_COLUMNS, rows))
    assert summary(report) == (0, 1, 2)
    with with_students() as session:
        assert sorted(session.scalars(select(GuardianLink.relation))) == ["guardian", "mother", "mother"]


def test_guardians_refusals(with_students, tmp_path, pupils) -> None:  # type: ignore[no-untyped-def]
    (mother,) = valid_iins(1, birth=dt.date(1990, 1, 5))
    stranger = valid_iins(1, serial=4321)[0]
    rows: list[dict[str, object]] = [
        {"parent_iin": mother, "student_iin": pupils[0], "relation": "mother"},
        {"parent_iin": bad_check_digit(mother), "student_iin": pupils[1], "relation": "mother"},
        {"parent_iin": mother, "student_iin": stranger, "relation": "mother"},
        {"parent_iin": mother, "student_iin": pupils[2], "relation": "aunt"},
        {"parent_iin": mother, "student_iin": pupils[0], "relation": "guardian"},
        {"parent_iin": pupils[3], "student_iin": pupils[3], "relation": "guardian"},
    ]
    errors = refused(with_students, "guardians", write_csv(tmp_path / "bad.csv", GUARDIAN_COLUMNS, rows))
    assert errors == [
        (3, "parent_iin", "IIN check digit does not match"),
        (4, "student_iin", "no student with this IIN (import students first)"),
        (5, "relation", "unknown value 'aunt'; expected one of mother, father, guardian"),
        (6, "student_iin", "this parent and student repeats line 2"),
        (7, "parent_iin", "is the same as student_iin"),
    ]
