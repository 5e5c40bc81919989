"""Importing schools, suppliers and contracts: happy paths, idempotence, and every refusal writes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from wallet.identifiers import make_bin
from wallet.importing import ImportFailed, import_file
from wallet.models import Base, Contract, ContractPrice, Region, School, Supplier

SCHOOL_COLUMNS = ["bin", "name_kk", "name_ru", "region_code", "region_name_kk", "region_name_ru", "timezone"]
SUPPLIER_COLUMNS = ["bin", "name"]
CONTRACT_COLUMNS = [
    "number", "school_bin", "supplier_bin", "valid_from", "valid_to", "meal_type", "category", "price_tiyn",
]


def valid_bins(count: int, *, kind: int = 4, serial: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        value = make_bin(2011, 9, kind, serial)
        serial += 1
        if value:
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
    """Import expecting a refusal; check that nothing changed; return (line, column, message) of each error."""
    before = counts(session_factory)
    with pytest.raises(ImportFailed) as caught:
        import_file(session_factory, kind, path)
    assert counts(session_factory) == before
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def summary(report) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return report.created, report.updated, report.unchanged


def school_row(bin_: str, n: int, region: str = "KZ-TST", **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "bin": bin_, "name_kk": f"№{n} мектеп", "name_ru": f"Школа №{n}", "region_code": region,
        "region_name_kk": "Сынақ облысы", "region_name_ru": "Тестовая область", "timezone": "",
    }
    return row | changes


@pytest.fixture
def school_bins() -> list[str]:
    return valid_bins(3)


@pytest.fixture
def supplier_bins() -> list[str]:
    return valid_bins(2, kind=4, serial=500)


@pytest.fixture
def seeded(session_factory, tmp_path: Path, school_bins: list[str], supplier_bins: list[str]):  # type: ignore[no-untyped-def]
    """Three schools and two suppliers already imported."""
    import_file(session_factory, "schools", write_csv(
        tmp_path / "seed-schools.csv", SCHOOL_COLUMNS, [school_row(b, i) for i, b in enumerate(school_bins, 1)],
    ))
    import_file(session_factory, "suppliers", write_csv(
        tmp_path / "seed-suppliers.csv", SUPPLIER_COLUMNS,
        [{"bin": b, "name": f"Supplier {i} LLP"} for i, b in enumerate(supplier_bins, 1)],
    ))
    return session_factory


# --- schools ---------------------------------------------------------------------------------------------


def test_schools_happy_path_and_reimport(session_factory, tmp_path: Path, school_bins: list[str]) -> None:
    rows = [
        school_row(school_bins[0], 1),
        school_row(school_bins[1], 2, timezone="Asia/Aqtobe"),
        school_row(school_bins[2], 3, region="KZ-OTH", region_name_ru="Другая область"),
    ]
    path = write_csv(tmp_path / "schools.csv", SCHOOL_COLUMNS, rows)
    report = import_file(session_factory, "schools", path)
    assert (report.kind, report.rows, *summary(report)) == ("schools", 3, 3, 0, 0)
    with session_factory() as session:
        schools = {s.bin: s for s in session.scalars(select(School))}
        assert schools[school_bins[0]].timezone == "Asia/Almaty"  # default for an empty cell
        assert schools[school_bins[1]].timezone == "Asia/Aqtobe"
        assert schools[school_bins[0]].region_id == schools[school_bins[1]].region_id
        assert sorted(session.scalars(select(Region.code))) == ["KZ-OTH", "KZ-TST"]

    assert summary(import_file(session_factory, "schools", path)) == (0, 0, 3)

    rows[0]["name_ru"] = "Школа-гимназия №1"
    report = import_file(session_factory, "schools", write_csv(tmp_path / "s2.csv", SCHOOL_COLUMNS, rows))
    assert summary(report) == (0, 1, 2)
    with session_factory() as session:
        assert session.scalar(select(School.name_ru).where(School.bin == school_bins[0])) == "Школа-гимназия №1"


def test_renaming_a_region_updates_its_schools(session_factory, tmp_path: Path, school_bins: list[str]) -> None:
    rows = [school_row(b, i) for i, b in enumerate(school_bins, 1)]
    import_file(session_factory, "schools", write_csv(tmp_path / "a.csv", SCHOOL_COLUMNS, rows))
    renamed = [r | {"region_name_ru": "Новое имя"} for r in rows[:2]]
    report = import_file(session_factory, "schools", write_csv(tmp_path / "b.csv", SCHOOL_COLUMNS, renamed))
    assert summary(report) == (0, 2, 0)
    with session_factory() as session:
        assert session.scalars(select(Region.name_ru)).all() == ["Новое имя"]


def test_schools_refusals(session_factory, tmp_path: Path, school_bins: list[str]) -> None:
    iin_like = "150402500016"  # 12 digits whose fifth digit is not an organisation kind
    rows = [
        school_row(school_bins[0], 1),
        school_row(bad_check_digit(school_bins[1]), 2),
        school_row(school_bins[0], 3),
        school_row(school_bins[2], 4, timezone="Asia/Nowhere"),
        school_row(valid_bins(1, serial=77)[0], 5, region_name_kk="Басқа"),
        school_row(iin_like, 6),
    ]
    errors = refused(session_factory, "schools", write_csv(tmp_path / "bad.csv", SCHOOL_COLUMNS, rows))
    assert errors == [
        (3, "bin", "BIN check digit does not match"),
        (4, "bin", "BIN repeats line 2"),
        (5, "timezone", "unknown IANA time zone 'Asia/Nowhere'"),
        (6, "region_name_kk", "region KZ-TST is named 'Сынақ облысы' on line 2"),
        (7, "bin", errors[-1][2]),
    ]
    assert errors[-1][2].startswith("BIN")


# --- suppliers -------------------------------------------------------------------------------------------


def test_suppliers_happy_path_and_reimport(session_factory, tmp_path: Path, supplier_bins: list[str]) -> None:
    rows: list[dict[str, object]] = [{"bin": b, "name": f"Caterer {i}"} for i, b in enumerate(supplier_bins)]
    path = write_csv(tmp_path / "suppliers.csv", SUPPLIER_COLUMNS, rows)
    assert summary(import_file(session_factory, "suppliers", path)) == (2, 0, 0)
    assert summary(import_file(session_factory, "suppliers", path)) == (0, 0, 2)
    rows[1]["name"] = "Caterer Renamed"
    report = import_file(session_factory, "suppliers", write_csv(tmp_path / "s2.csv", SUPPLIER_COLUMNS, rows))
    assert summary(report) == (0, 1, 1)
    with session_factory() as session:
        assert sorted(session.scalars(select(Supplier.name))) == ["Caterer 0", "Caterer Renamed"]


def test_suppliers_refusals(session_factory, tmp_path: Path, supplier_bins: list[str]) -> None:
    rows: list[dict[str, object]] = [
        {"bin": bad_check_digit(supplier_bins[0]), "name": "A"},
        {"bin": supplier_bins[1], "name": ""},
        {"bin": supplier_bins[1], "name": "B"},
        {"bin": "12345678901", "name": "C"},
    ]
    errors = refused(session_factory, "suppliers", write_csv(tmp_path / "bad.csv", SUPPLIER_COLUMNS, rows))
    assert errors == [
        (2, "bin", "BIN check digit does not match"),
        (3, "name", "is required"),
        (5, "bin", "BIN must be exactly 12 digits"),
    ]  # line 4 repeats a BIN, but only of a row that was itself refused


# --- contracts -------------------------------------------------------------------------------------------


def price(
    number: str, school: str, supplier: str, meal_type: str = "lunch", category: str = "primary_grades",
    price_tiyn: object = 85000, valid_from: str = "2025-09-01", valid_to: str = "2026-05-31",
) -> dict[str, object]:
    return {
        "number": number, "school_bin": school, "supplier_bin": supplier, "valid_from": valid_from,
        "valid_to": valid_to, "meal_type": meal_type, "category": category, "price_tiyn": price_tiyn,
    }


def test_contracts_happy_path_and_reimport(seeded, tmp_path: Path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    s, p = school_bins, supplier_bins
    rows = [
        price("C-1", s[0], p[0], "lunch", "primary_grades", 85000),
        price("C-1", s[0], p[0], "lunch", "social_assistance", 90000),
        price("C-1", s[0], p[0], "breakfast", "primary_grades", 40000),
        price("C-2", s[1], p[1], "lunch", "orphan", 95000),
        # the same school and meal type, the next school year: adjacent, not overlapping
        price("C-3", s[0], p[1], "lunch", "primary_grades", 88000, "2026-06-01", "2027-05-31"),
    ]
    path = write_csv(tmp_path / "contracts.csv", CONTRACT_COLUMNS, rows)
    report = import_file(seeded, "contracts", path)
    assert (report.rows, *summary(report)) == (5, 5, 0, 0)
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Contract)) == 3
        c1 = session.scalars(select(Contract).where(Contract.number == "C-1")).one()
        assert {(x.meal_type, x.category_code, x.price_tiyn) for x in c1.prices} == {
            ("lunch", "primary_grades", 85000), ("lunch", "social_assistance", 90000),
            ("breakfast", "primary_grades", 40000),
        }

    assert summary(import_file(seeded, "contracts", path)) == (0, 0, 5)

    rows[1]["price_tiyn"] = 91000
    rows.append(price("C-2", s[1], p[1], "snack", "orphan", 30000))
    report = import_file(seeded, "contracts", write_csv(tmp_path / "c2.csv", CONTRACT_COLUMNS, rows))
    assert summary(report) == (1, 1, 4)

    # A changed period touches every price line of that contract.
    moved = [r | {"valid_to": "2026-05-30"} for r in rows if r["number"] == "C-1"]
    report = import_file(seeded, "contracts", write_csv(tmp_path / "c3.csv", CONTRACT_COLUMNS, moved))
    assert summary(report) == (0, 3, 0)


def test_contract_rows_must_agree_and_refer_to_known_things(seeded, tmp_path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    s, p = school_bins, supplier_bins
    unknown_school, unknown_supplier = valid_bins(2, serial=900)
    rows = [
        price("C-1", s[0], p[0], "lunch", "primary_grades"),
        price("C-1", s[1], p[0], "lunch", "orphan"),  # disagrees on school
        price("C-1", s[0], p[1], "breakfast", "orphan", valid_to="2026-05-30"),  # supplier and period
        price("C-2", unknown_school, unknown_supplier, "lunch", "pensioners"),
        price("C-1", s[0], p[0], "lunch", "primary_grades", 1),  # duplicate natural key
    ]
    errors = refused(seeded, "contracts", write_csv(tmp_path / "bad.csv", CONTRACT_COLUMNS, rows))
    assert errors[:4] == [
        (3, "school_bin", f"contract C-1 has school_bin {s[0]} on line 2"),
        (4, "supplier_bin", f"contract C-1 has supplier_bin {p[0]} on line 2"),
        (4, "valid_to", "contract C-1 has valid_to 2026-05-31 on line 2"),
        (5, "category", errors[3][2]),
    ]
    assert errors[3][2].startswith("unknown eligibility category 'pensioners'; known: large_family, low_income")
    assert errors[4:] == [
        (5, "school_bin", f"no school with BIN {unknown_school}"),
        (5, "supplier_bin", f"no supplier with BIN {unknown_supplier}"),
        (6, "category", "this contract number, meal type and category repeats line 2"),
    ]


def test_overlapping_contracts_in_one_file_are_refused(seeded, tmp_path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    s, p = school_bins, supplier_bins
    rows = [
        price("C-1", s[0], p[0], "lunch"),
        price("C-2", s[0], p[1], "breakfast", valid_from="2026-01-01"),  # other meal type: fine
        price("C-3", s[1], p[1], "lunch", valid_from="2026-01-01"),  # other school: fine
        price("C-4", s[0], p[1], "lunch", valid_from="2026-05-31", valid_to="2026-12-31"),  # shares one day
    ]
    errors = refused(seeded, "contracts", write_csv(tmp_path / "overlap.csv", CONTRACT_COLUMNS, rows))
    assert errors == [(
        5, "valid_from",
        "contract C-4 (2026-05-31 to 2026-12-31) overlaps contract C-1 (2025-09-01 to 2026-05-31) "
        "of the same school for lunch",
    )]


def test_overlap_with_a_stored_contract_is_refused(seeded, tmp_path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    s, p = school_bins, supplier_bins
    import_file(seeded, "contracts", write_csv(tmp_path / "first.csv", CONTRACT_COLUMNS, [
        price("C-1", s[0], p[0], "lunch"), price("C-1", s[0], p[0], "breakfast"),
    ]))
    later = [price("C-9", s[0], p[1], "breakfast", valid_from="2026-03-01", valid_to="2026-08-31")]
    errors = refused(seeded, "contracts", write_csv(tmp_path / "later.csv", CONTRACT_COLUMNS, later))
    assert [(line, column) for line, column, _ in errors] == [(2, "valid_from")]
    assert "overlaps contract C-1" in errors[0][2] and errors[0][2].endswith("for breakfast")

    # Shortening the stored contract in the same file makes room for the new one.
    fixed = [
        price("C-1", s[0], p[0], "lunch", valid_to="2026-02-28"),
        *later,
    ]
    report = import_file(seeded, "contracts", write_csv(tmp_path / "fixed.csv", CONTRACT_COLUMNS, fixed))
    assert summary(report) == (1, 1, 0)


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"price_tiyn": 0}, "price_tiyn", "must be at least 1"),
        ({"price_tiyn": -5}, "price_tiyn", "must be at least 1"),
        ({"price_tiyn": "850.00"}, "price_tiyn", "must be a whole number, got '850.00'"),
        ({"price_tiyn": "99999999999"}, "price_tiyn", "is too large"),
        ({"meal_type": "dinner"}, "meal_type", "unknown value 'dinner'; expected one of breakfast, lunch, snack"),
        ({"valid_from": "01.09.2025"}, "valid_from", "must be a date as YYYY-MM-DD, got '01.09.2025'"),
        ({"valid_to": "2026-02-30"}, "valid_to", "is not a real date: '2026-02-30'"),
        ({"valid_to": "2025-08-31"}, "valid_to", "is before valid_from (2025-09-01)"),
        ({"number": ""}, "number", "is required"),
    ],
)
def test_contract_cell_refusals(seeded, tmp_path, school_bins, supplier_bins, changes, column, message) -> None:  # type: ignore[no-untyped-def]
    rows = [price("C-1", school_bins[0], supplier_bins[0]), price("C-2", school_bins[1], supplier_bins[0]) | changes]
    errors = refused(seeded, "contracts", write_csv(tmp_path / "cell.csv", CONTRACT_COLUMNS, rows))
    assert errors == [(3, column, message)]


def test_contract_with_bad_supplier_bin(seeded, tmp_path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    rows = [price("C-1", school_bins[0], bad_check_digit(supplier_bins[0]))]
    errors = refused(seeded, "contracts", write_csv(tmp_path / "bin.csv", CONTRACT_COLUMNS, rows))
    assert errors == [(2, "supplier_bin", "BIN check digit does not match")]


def test_stored_price_lines_are_kept_when_not_in_the_file(seeded, tmp_path, school_bins, supplier_bins) -> None:  # type: ignore[no-untyped-def]
    s, p = school_bins, supplier_bins
    import_file(seeded, "contracts", write_csv(tmp_path / "a.csv", CONTRACT_COLUMNS, [
        price("C-1", s[0], p[0], "lunch"), price("C-1", s[0], p[0], "snack"),
    ]))
    import_file(seeded, "contracts", write_csv(tmp_path / "b.csv", CONTRACT_COLUMNS, [
        price("C-1", s[0], p[0], "lunch"),
    ]))
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(ContractPrice)) == 2
