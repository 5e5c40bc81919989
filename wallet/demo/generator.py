"""A deterministic demo world, written as the CSV files that `wallet import` reads (docs/import-formats.md).

What it makes, from one seed and one `today`:

- 3 regions, 8 schools (time zone Asia/Almaty: Kazakhstan has had one zone since 1 March 2024; the column is
  kept), 3 suppliers and one contract per school for the school year (1 September - 31 May) that contains
  `today`, priced in integer tiyn per eligibility category for the free meal: lunch (FREE_MEAL_TYPES), the
  one meal the demo's terminals serve, so the reconciliation's ceiling counts the meals that can be served.
- `students` pupils of grades 1-11, aged to match their grade (a pupil of grade g is g+5, sometimes g+6, years
  old on 1 September), in classes such as "1А", "3Ә", "7Б"; Kazakh and Russian first names, surnames and
  patronymics in their male and female forms; parents or guardians (born 1975-1995, 19 to 45 years older than
  the child), about 1.6 per pupil, brothers and sisters sharing them.
- Eligibility: every pupil of grades 1-4 `primary_grades` for the whole school year; about 15% of families
  fall in another category (targeted social assistance, low income, large family, orphans, who have a
  `guardian` instead of parents); some of those periods begin or end in the middle of the year.
- A calendar of every day of the school year's month containing `today` and of the month before: Monday to
  Friday `serving`, Saturday and Sunday `holiday`, Kazakhstan's fixed-date public holidays, and one
  `closure` (a quarantine) at one school. Serving days may only fall between 1 September and 31 May, so when
  `today` is in June, July or August the calendar (and menus) are made for the September that follows
  instead, and August's days are `holiday` (summer holidays).
- Menus for every serving day of those months at every school: breakfast (2 dishes), lunch (3-4), snack
  (1-2), with names in kk, ru and en, grams, kcal and allergen codes.

Identification numbers are valid but belong to no real person or organisation:

- Every IIN (pupils and parents) is built by `make_iin(birth, female, serial=0)`. The serial 0000 is
  reserved by the demo: the birth date is redrawn when it collides with one already used or when no check
  digit exists for it (make_iin returns None). Because birth date and sex then fix the IIN, one world can
  hold only a few thousand pupils: `generate` accepts at most MAX_STUDENTS (5,000) and raises ValueError
  beyond.
- Every BIN is built by `make_bin(year, month, 4, serial)` with a serial counted up from 000000.

The same seed, pupil count and `today` give byte-identical files; the CSVs are UTF-8 without a BOM.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

from wallet.demo import catalogue as cat
from wallet.demo.people import add_people
from wallet.demo.world import DemoWorld, Row
from wallet.identifiers import make_bin
from wallet.vouchers import years

# The import order: each kind refers only to kinds before it.
KINDS = ("schools", "suppliers", "contracts", "students", "eligibility", "guardians", "calendar", "menus")

COLUMNS: dict[str, tuple[str, ...]] = {
    "schools": ("bin", "name_kk", "name_ru", "region_code", "region_name_kk", "region_name_ru", "timezone"),
    "suppliers": ("bin", "name"),
    "contracts": (
        "number", "school_bin", "supplier_bin", "valid_from", "valid_to", "meal_type", "category",
        "price_tiyn",
    ),
    "students": (
        "iin", "last_name", "first_name", "patronymic", "school_bin", "grade", "class_name", "enrolled_from",
        "enrolled_to",
    ),
    "eligibility": ("iin", "category", "valid_from", "valid_to"),
    "guardians": ("parent_iin", "student_iin", "relation"),
    "calendar": ("school_bin", "date", "kind", "note"),
    "menus": (
        "school_bin", "date", "meal_type", "position", "name_kk", "name_ru", "name_en", "grams", "kcal",
        "allergens",
    ),
}

MEAL_TYPES = ("breakfast", "lunch", "snack")
# The meal the programme pays for in the demo (the menus show all three): one free hot lunch a school day.
FREE_MEAL_TYPES = ("lunch",)
CATEGORIES = ("primary_grades", "social_assistance", "low_income", "orphan", "large_family")
TIMEZONE = "Asia/Almaty"
MAX_STUDENTS = 5000


def school_year_of(today: dt.date) -> int:
    """The year whose 1 September starts the school year of `today` (June-August: the coming one), by the
    vouchers' rule (wallet.vouchers.years), so the demo's pupils, calendar and vouchers share one year."""
    return int(years.school_year_of(today)[:4])


def calendar_months(today: dt.date) -> tuple[tuple[int, int], ...]:
    """The school year's month containing `today` (September after a summer `today`) and the month before."""
    year, month = (today.year, 9) if 6 <= today.month <= 8 else (today.year, today.month)
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    return previous, (year, month)


def _days_of(year: int, month: int) -> Iterator[dt.date]:
    day = dt.date(year, month, 1)
    while day.month == month:
        yield day
        day += dt.timedelta(days=1)


def _round(value: float, step: int = 500) -> int:
    return round(value / step) * step


def _unique_bin(rng: random.Random, used: set[str], years: tuple[int, int]) -> str:
    year, month = rng.randint(*years), rng.randint(1, 12)
    serial = 0
    while True:
        bin_ = make_bin(year, month, 4, serial)
        if bin_ is not None and bin_ not in used:
            used.add(bin_)
            return bin_
        serial += 1


def _places(rng: random.Random, year: int, world: DemoWorld) -> tuple[list[str], list[str]]:
    regions = {r.code: r for r in cat.REGIONS}
    used: set[str] = set()
    school_bins = [_unique_bin(rng, used, (1996, 2008)) for _ in cat.SCHOOLS]
    supplier_bins = [_unique_bin(rng, used, (2012, 2022)) for _ in cat.SUPPLIERS]
    world.tables["schools"] = [
        {
            "bin": bin_, "name_kk": s.name_kk, "name_ru": s.name_ru, "region_code": s.region,
            "region_name_kk": regions[s.region].name_kk, "region_name_ru": regions[s.region].name_ru,
            "timezone": TIMEZONE,
        }
        for bin_, s in zip(school_bins, cat.SCHOOLS, strict=True)
    ]
    world.tables["suppliers"] = [
        {"bin": bin_, "name": s.name} for bin_, s in zip(supplier_bins, cat.SUPPLIERS, strict=True)
    ]
    supplier_of_region = {s.region: i for i, s in enumerate(cat.SUPPLIERS)}
    contracts: list[Row] = []
    for i, school in enumerate(cat.SCHOOLS):
        supplier = supplier_of_region[school.region]
        lo, hi = cat.SUPPLIERS[supplier].lunch_tiyn
        lunch = rng.randrange(lo, hi + 1, 500)
        prices = {"breakfast": _round(lunch * 0.6), "lunch": lunch, "snack": _round(lunch * 0.35)}
        for meal_type in FREE_MEAL_TYPES:
            for category in CATEGORIES:
                contracts.append({
                    "number": f"SW-DEMO-{year}-{i + 1:03d}", "school_bin": school_bins[i],
                    "supplier_bin": supplier_bins[supplier], "valid_from": f"{year}-09-01",
                    "valid_to": f"{year + 1}-05-31", "meal_type": meal_type, "category": category,
                    "price_tiyn": str(prices[meal_type]),
                })
    world.tables["contracts"] = contracts
    return school_bins, supplier_bins


def _calendar(rng: random.Random, world: DemoWorld, school_bins: list[str]) -> dict[str, list[dt.date]]:
    holidays = {(m, d): note for m, d, note in cat.PUBLIC_HOLIDAYS}
    days = [day for year, month in world.months for day in _days_of(year, month)]
    kinds: dict[dt.date, tuple[str, str]] = {}
    for day in days:
        if (day.month, day.day) in holidays:
            kinds[day] = ("holiday", holidays[(day.month, day.day)])
        elif 6 <= day.month <= 8:
            kinds[day] = ("holiday", cat.SUMMER_NOTE)
        elif day.weekday() >= 5:
            kinds[day] = ("holiday", cat.WEEKEND_NOTE)
        else:
            kinds[day] = ("serving", "")
    serving = [day for day in days if kinds[day][0] == "serving"]
    closure_school = rng.randrange(len(school_bins))
    past = [day for day in serving if day <= world.today] or serving
    closure_day = rng.choice(past) if past else None

    rows: list[Row] = []
    serving_at: dict[str, list[dt.date]] = {}
    for i, bin_ in enumerate(school_bins):
        serving_at[bin_] = []
        for day in days:
            kind, note = kinds[day]
            if i == closure_school and day == closure_day:
                kind, note = "closure", cat.CLOSURE_NOTE
            rows.append({"school_bin": bin_, "date": day.isoformat(), "kind": kind, "note": note})
            if kind == "serving":
                serving_at[bin_].append(day)
    world.tables["calendar"] = rows
    return serving_at


def _dish_row(bin_: str, day: dt.date, meal_type: str, position: int, dish: cat.Dish) -> Row:
    return {
        "school_bin": bin_, "date": day.isoformat(), "meal_type": meal_type, "position": str(position),
        "name_kk": dish.name_kk, "name_ru": dish.name_ru, "name_en": dish.name_en, "grams": str(dish.grams),
        "kcal": str(dish.kcal), "allergens": ";".join(sorted(dish.allergens)),
    }


def _menus(rng: random.Random, world: DemoWorld, serving_at: dict[str, list[dt.date]]) -> None:
    rows: list[Row] = []
    for bin_, days in serving_at.items():
        last_main: cat.Dish | None = None
        for day in days:
            main = rng.choice([d for d in cat.MAINS if d != last_main])
            last_main = main
            lunch = [rng.choice(cat.SALADS)] if rng.random() < 0.5 else []
            lunch += [rng.choice(cat.SOUPS), main, rng.choice(cat.LUNCH_DRINKS)]
            snack = [rng.choice(cat.SNACK_MAINS)]
            if rng.random() < 0.5:
                snack.append(rng.choice(cat.SNACK_DRINKS))
            menu = {
                "breakfast": [rng.choice(cat.BREAKFAST_MAINS), rng.choice(cat.BREAKFAST_SIDES)],
                "lunch": lunch,
                "snack": snack,
            }
            for meal_type in MEAL_TYPES:
                for position, dish in enumerate(menu[meal_type], start=1):
                    rows.append(_dish_row(bin_, day, meal_type, position, dish))
    world.tables["menus"] = rows


def _rng(seed: int, part: str) -> random.Random:
    # Reproducible made-up data, not secrets; a str seed is hashed the same way in every process.
    return random.Random(f"{seed}/{part}")


def build(*, seed: int = 2026, students: int = 1000, today: dt.date) -> DemoWorld:
    """The demo world's rows, kind by kind (see the module docstring)."""
    if not 1 <= students <= MAX_STUDENTS:
        raise ValueError(f"students must be between 1 and {MAX_STUDENTS}")
    year = school_year_of(today)
    world = DemoWorld(seed=seed, today=today, school_year=year, months=calendar_months(today))
    # One generator per part, so that e.g. the pupil count does not reshuffle the calendar or the menus.
    school_bins, _ = _places(_rng(seed, "places"), year, world)
    add_people(_rng(seed, "people"), year, students, school_bins, world)
    serving_at = _calendar(_rng(seed, "calendar"), world, school_bins)
    _menus(_rng(seed, "menus"), world, serving_at)
    return world


def write(world: DemoWorld, out_dir: Path) -> dict[str, Path]:
    """Write one CSV per kind into `out_dir`; returns kind -> file in import order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for kind in KINDS:
        path = out_dir / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS[kind], lineterminator="\n")
            writer.writeheader()
            writer.writerows(world.tables[kind])
        files[kind] = path
    return files


def generate(out_dir: Path, *, seed: int = 2026, students: int = 1000, today: dt.date) -> dict[str, Path]:
    """Generate the demo world into `out_dir` as one CSV per kind; returns kind -> file in import order."""
    return write(build(seed=seed, students=students, today=today), out_dir)
