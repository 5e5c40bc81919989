"""The demo generator alone (no database): valid made-up identifiers, plausible people, a legal calendar."""

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from wallet.demo import KINDS, build, generate
from wallet.demo.generator import COLUMNS, calendar_months, school_year_of
from wallet.identifiers import iin_birth_date, validate_bin, validate_iin
from wallet.models import ALLERGENS, MEAL_TYPES

TODAY = dt.date(2026, 2, 10)
CATEGORIES = ("primary_grades", "social_assistance", "low_income", "orphan", "large_family")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    files = generate(tmp_path_factory.mktemp("demo"), seed=2026, students=1000, today=TODAY)
    assert list(files) == list(KINDS)
    return {kind: _read(path) for kind, path in files.items()}


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_one_file_per_kind_with_exactly_the_documented_columns(tmp_path):
    files = generate(tmp_path, students=50, today=TODAY)
    for kind, path in files.items():
        assert path == tmp_path / f"{kind}.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == COLUMNS[kind]
        assert not path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_sizes(tables):
    assert len(tables["schools"]) == 8
    assert len({r["region_code"] for r in tables["schools"]}) == 3
    assert {r["timezone"] for r in tables["schools"]} == {"Asia/Almaty"}
    assert len(tables["suppliers"]) == 3
    assert len(tables["students"]) == 1000
    assert len({r["number"] for r in tables["contracts"]}) == 8


def test_every_iin_and_bin_is_valid_unique_and_iins_use_the_reserved_serial(tables):
    pupils = [r["iin"] for r in tables["students"]]
    parents = sorted({r["parent_iin"] for r in tables["guardians"]})
    for iin in pupils + parents:
        assert validate_iin(iin) == iin
        assert iin[7:11] == "0000"
    assert len(set(pupils)) == len(pupils)
    assert not set(pupils) & set(parents)
    bins = [r["bin"] for r in tables["schools"]] + [r["bin"] for r in tables["suppliers"]]
    for bin_ in bins:
        assert validate_bin(bin_) == bin_
    assert len(set(bins)) == len(bins)


def test_pupils_ages_match_their_grades_and_parents_are_adults(tables):
    first_of_september = dt.date(school_year_of(TODAY), 9, 1)
    births = {}
    for row in tables["students"]:
        grade = int(row["grade"])
        assert 1 <= grade <= 11
        assert row["class_name"].startswith(row["grade"]) and len(row["class_name"]) == len(row["grade"]) + 1
        birth = births[row["iin"]] = iin_birth_date(row["iin"])
        assert _age_on(birth, first_of_september) - grade in (5, 6)
        assert row["enrolled_from"] == first_of_september.isoformat()
    for row in tables["guardians"]:
        parent_birth = iin_birth_date(row["parent_iin"])
        assert 1975 <= parent_birth.year <= 1995
        assert 19 <= births[row["student_iin"]].year - parent_birth.year <= 45
        assert row["relation"] in ("mother", "father", "guardian")
        # A mother's IIN says female (even century digit), a father's male.
        if row["relation"] != "guardian":
            assert int(row["parent_iin"][6]) % 2 == (0 if row["relation"] == "mother" else 1)
    assert len({r["class_name"] for r in tables["students"] if r["grade"] == "1"}) >= 2


def test_names_have_gendered_forms(tables):
    for row in tables["students"]:
        female = int(row["iin"][6]) % 2 == 0
        patronymic = row["patronymic"]
        if patronymic:
            assert patronymic.endswith(("вна", "қызы") if female else ("вич", "ұлы"))
        if row["last_name"].endswith(("ов", "ев", "ова", "ева")):
            assert row["last_name"].endswith("а") == female


def test_guardians_about_one_and_a_half_per_pupil_and_some_siblings(tables):
    per_pupil = Counter(r["student_iin"] for r in tables["guardians"])
    assert set(per_pupil) == {r["iin"] for r in tables["students"]}
    assert 1.4 <= sum(per_pupil.values()) / len(per_pupil) <= 1.8
    children = Counter(r["parent_iin"] for r in tables["guardians"])
    assert max(children.values()) >= 2


def test_eligibility(tables):
    year = school_year_of(TODAY)
    grade = {r["iin"]: int(r["grade"]) for r in tables["students"]}
    rows = tables["eligibility"]
    primary = {r["iin"] for r in rows if r["category"] == "primary_grades"}
    assert primary == {iin for iin, g in grade.items() if g <= 4}
    for row in rows:
        assert row["category"] in CATEGORIES
        start, end = dt.date.fromisoformat(row["valid_from"]), dt.date.fromisoformat(row["valid_to"])
        assert dt.date(year, 9, 1) <= start <= end <= dt.date(year + 1, 5, 31)
    older = {iin for iin, g in grade.items() if g > 4}
    other = {r["iin"] for r in rows if r["iin"] in older}
    assert 0.08 <= len(other) / len(older) <= 0.25
    assert any(r["valid_to"] < f"{year + 1}-05-31" for r in rows)
    assert len({(r["iin"], r["category"], r["valid_from"]) for r in rows}) == len(rows)


def test_contract_prices_are_whole_tiyn_for_the_free_lunch_of_every_category(tables):
    """Only the meal the demo serves is priced, so the ceiling (children x days x priced meal types) is a
    ceiling of the meals that can be served."""
    year = school_year_of(TODAY)
    rows = tables["contracts"]
    assert len(rows) == 8 * 5
    assert {r["meal_type"] for r in rows} == {"lunch"}
    assert {r["school_bin"] for r in rows} == {r["bin"] for r in tables["schools"]}
    for row in rows:
        assert row["price_tiyn"] == str(int(row["price_tiyn"]))
        assert (row["valid_from"], row["valid_to"]) == (f"{year}-09-01", f"{year + 1}-05-31")
        assert row["meal_type"] in MEAL_TYPES
    lunches = [int(r["price_tiyn"]) for r in rows if r["meal_type"] == "lunch"]
    assert all(65_000 <= p <= 95_000 for p in lunches)


def test_calendar_covers_whole_months_and_never_serves_on_sunday(tables):
    rows = tables["calendar"]
    months = calendar_months(TODAY)
    assert months == ((2026, 1), (2026, 2))
    days_per_school = (dt.date(2026, 3, 1) - dt.date(2026, 1, 1)).days
    assert len(rows) == 8 * days_per_school
    assert len({(r["school_bin"], r["date"]) for r in rows}) == len(rows)
    for row in rows:
        day = dt.date.fromisoformat(row["date"])
        assert (day.year, day.month) in months
        if row["kind"] == "serving":
            assert day.weekday() < 5
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["closure"] == 1
    assert {r["kind"] for r in rows if r["date"] == "2026-01-01"} == {"holiday"}


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 7, 15), ((2026, 8), (2026, 9))),
        (dt.date(2025, 9, 1), ((2025, 8), (2025, 9))),
        (dt.date(2026, 1, 20), ((2025, 12), (2026, 1))),
        (dt.date(2026, 5, 31), ((2026, 4), (2026, 5))),
    ],
)
def test_serving_days_only_in_the_school_year(today, expected):
    world = build(students=20, today=today)
    assert world.months == expected
    year = school_year_of(today)
    for row in world.tables["calendar"]:
        day = dt.date.fromisoformat(row["date"])
        if row["kind"] == "serving":
            assert dt.date(year, 9, 1) <= day <= dt.date(year + 1, 5, 31)
            assert day.weekday() != 6
    assert all(r["valid_from"] == f"{year}-09-01" for r in world.tables["contracts"])


def test_menus_for_every_serving_day_with_known_allergens(tables):
    serving = {(r["school_bin"], r["date"]) for r in tables["calendar"] if r["kind"] == "serving"}
    menus = tables["menus"]
    by_meal: dict[tuple[str, str, str], list[int]] = {}
    for row in menus:
        key = (row["school_bin"], row["date"], row["meal_type"])
        by_meal.setdefault(key, []).append(int(row["position"]))
        for code in filter(None, row["allergens"].split(";")):
            assert code in ALLERGENS
        assert int(row["grams"]) > 0 and int(row["kcal"]) > 0
        assert row["name_kk"] and row["name_ru"] and row["name_en"]
    assert {(b, d) for b, d, _ in by_meal} == serving
    sizes = {"breakfast": (2, 2), "lunch": (3, 4), "snack": (1, 2)}
    for (_, _, meal_type), positions in by_meal.items():
        low, high = sizes[meal_type]
        assert low <= len(positions) <= high
        assert positions == list(range(1, len(positions) + 1))
    assert len({(b, d) for b, d, _ in by_meal}) * 3 == len(by_meal)


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    one = generate(tmp_path / "one", seed=7, students=150, today=TODAY)
    two = generate(tmp_path / "two", seed=7, students=150, today=TODAY)
    other = generate(tmp_path / "other", seed=8, students=150, today=TODAY)
    for kind in KINDS:
        assert one[kind].read_bytes() == two[kind].read_bytes()
    assert one["students"].read_bytes() != other["students"].read_bytes()


def test_pupil_count_is_bounded():
    with pytest.raises(ValueError, match="students"):
        build(students=0, today=TODAY)
    with pytest.raises(ValueError, match="students"):
        build(students=10**6, today=TODAY)


@pytest.mark.parametrize("day", [dt.date(2026, 5, 31), dt.date(2026, 6, 1), dt.date(2026, 8, 31), dt.date(2026, 9, 1),
                                 dt.date(2027, 1, 15), dt.date(2027, 7, 20)])
def test_the_demo_school_year_is_the_vouchers_school_year(day):
    from wallet.vouchers.years import school_year_of as voucher_year

    assert f"{school_year_of(day)}-{school_year_of(day) + 1}" == voucher_year(day)
