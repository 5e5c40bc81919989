"""A deterministic demo world, written as the CSV files that `wallet import` reads (docs/import-formats.md).

What it makes, from one seed and one `today`:

- 3 regions, 8 schools (time zone Asia/Almaty: Kazakhstan has had one zone since 1 March 2024; the column is
  kept), 3 suppliers and one contract per school for the school year (1 September - 31 May) that contains
  `today`, priced in integer tiyn per meal type and eligibility category.
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
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wallet.demo import catalogue as cat
from wallet.identifiers import make_bin, make_iin
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
CATEGORIES = ("primary_grades", "social_assistance", "low_income", "orphan", "large_family")
TIMEZONE = "Asia/Almaty"
DEMO_SERIAL = 0  # the IIN serial this demo reserves for its made-up people
MAX_STUDENTS = 5000

# Relative number of pupils per grade 1..11 (fewer stay on for grades 10-11).
GRADE_WEIGHTS = (1.15, 1.15, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.55)
CLASS_SIZE = 14  # small classes, so a demo of a few hundred pupils still has 1А, 1Б, ...
SIBLING_SHARE = 0.22  # chance that a pupil is a brother or sister of a pupil already drawn
# A family's ground for free meals beyond grades 1-4, drawn once per family: (upper bound, category).
FAMILY_CATEGORIES = (
    (0.05, "social_assistance"), (0.08, "low_income"), (0.14, "large_family"), (0.15, "orphan"),
)

Row = dict[str, str]


@dataclass
class DemoWorld:
    """The rows of every kind, and the dates they were made for."""

    seed: int
    today: dt.date
    school_year: int  # the year in which the school year begins (1 September)
    months: tuple[tuple[int, int], ...]  # (year, month) of the calendar and menus, oldest first
    tables: dict[str, list[Row]] = field(default_factory=dict)


@dataclass
class _Family:
    language: str
    surname: tuple[str, str]
    father: tuple[str, str, str]
    kazakh_patronymic: bool
    no_patronymic: bool
    category: str | None
    period: tuple[dt.date, dt.date]
    guardians: list[tuple[str, str]] = field(default_factory=list)  # (parent IIN, relation)
    parent_births: list[dt.date] = field(default_factory=list)
    child_births: list[dt.date] = field(default_factory=list)

    def can_have(self, birth: dt.date) -> bool:
        if len(self.child_births) >= 6:
            return False
        if any(not 19 <= birth.year - p.year <= 45 for p in self.parent_births):
            return False
        return all(abs((birth - c).days) >= 300 for c in self.child_births)


@dataclass
class _Pupil:
    iin: str
    female: bool
    school: int
    grade: int
    family: _Family
    class_name: str = ""


class _Identities:
    """Hands out unique serial-0000 IINs, redrawing the birth date on a collision or a missing check digit."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def draw(self, rng: random.Random, lo: dt.date, hi: dt.date, female: bool) -> tuple[str, dt.date] | None:
        span = (hi - lo).days + 1
        if span <= 0:
            return None
        for _ in range(64):
            found = self._take(lo + dt.timedelta(days=rng.randrange(span)), female)
            if found:
                return found
        start = rng.randrange(span)  # crowded window: walk it from a random day
        for k in range(span):
            found = self._take(lo + dt.timedelta(days=(start + k) % span), female)
            if found:
                return found
        return None

    def _take(self, birth: dt.date, female: bool) -> tuple[str, dt.date] | None:
        iin = make_iin(birth, female, DEMO_SERIAL)
        if iin is None or iin in self.used:
            return None
        self.used.add(iin)
        return iin, birth


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


def _iso(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


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
        for meal_type in MEAL_TYPES:
            for category in CATEGORIES:
                contracts.append({
                    "number": f"SW-DEMO-{year}-{i + 1:03d}", "school_bin": school_bins[i],
                    "supplier_bin": supplier_bins[supplier], "valid_from": f"{year}-09-01",
                    "valid_to": f"{year + 1}-05-31", "meal_type": meal_type, "category": category,
                    "price_tiyn": str(prices[meal_type]),
                })
    world.tables["contracts"] = contracts
    return school_bins, supplier_bins


def _birth_window(year: int, age: int) -> tuple[dt.date, dt.date]:
    """Birth dates of a child who is exactly `age` years old on 1 September of `year`."""
    return dt.date(year - age - 1, 9, 2), dt.date(year - age, 9, 1)


def _draw_pupil(
    rng: random.Random, ids: _Identities, year: int, grade: int, female: bool
) -> tuple[str, dt.date, bool]:
    ages = (grade + 5, grade + 6) if rng.random() < 0.9 else (grade + 6, grade + 5)
    for sex in (female, not female):
        for age in ages:
            found = ids.draw(rng, *_birth_window(year, age), sex)
            if found:
                return found[0], found[1], sex
    raise ValueError(f"too many pupils: no free serial-0000 IIN left for grade {grade}")


def _draw_adult(
    rng: random.Random, ids: _Identities, child_birth: dt.date, female: bool
) -> tuple[str, dt.date]:
    first, last = max(1975, child_birth.year - 45), min(1995, child_birth.year - 19)
    if first > last:  # a `today` far from the 2020s: keep only the age gap
        first, last = child_birth.year - 45, child_birth.year - 19
    found = ids.draw(rng, dt.date(first, 1, 1), dt.date(last, 12, 31), female)
    if found is None:
        raise ValueError("too many parents: no free serial-0000 IIN left")
    return found


def _family_period(rng: random.Random, year: int, category: str | None) -> tuple[dt.date, dt.date]:
    start, end = dt.date(year, 9, 1), dt.date(year + 1, 5, 31)
    if category in (None, "orphan", "large_family"):
        return start, end
    r = rng.random()
    if r < 0.2:  # ends mid-year (e.g. targeted assistance granted for a quarter or two)
        month = rng.choice((10, 11, 12, 1, 2, 3))
        end_year = year if month >= 9 else year + 1
        next_first = dt.date(end_year + (month == 12), month % 12 + 1, 1)
        return start, next_first - dt.timedelta(days=1)
    if r < 0.3:  # begins mid-year
        month = rng.choice((11, 12, 1, 2))
        return dt.date(year if month >= 9 else year + 1, month, 1), end
    return start, end


def _new_family(
    rng: random.Random, ids: _Identities, year: int, school: int, child_birth: dt.date
) -> _Family:
    language = "kk" if rng.random() < cat.KAZAKH_SHARE[cat.SCHOOLS[school].language] else "ru"
    r = rng.random()
    category = next((c for bound, c in FAMILY_CATEGORIES if r < bound), None)
    family = _Family(
        language=language, surname=rng.choice(cat.SURNAMES[language]),
        father=rng.choice(cat.FATHER_NAMES[language]),
        kazakh_patronymic=language == "kk" and rng.random() < 0.2, no_patronymic=rng.random() < 0.02,
        category=category, period=_family_period(rng, year, category),
    )
    if category == "orphan":
        members = (("guardian", rng.random() < 0.75),)
    else:
        r = rng.random()
        if r < 0.62:
            members = (("mother", True), ("father", False))
        elif r < 0.92:
            members = (("mother", True),)
        elif r < 0.97:
            members = (("father", False),)
        else:
            members = (("guardian", rng.random() < 0.75),)
    for relation, female in members:
        iin, birth = _draw_adult(rng, ids, child_birth, female)
        family.guardians.append((iin, relation))
        family.parent_births.append(birth)
    return family


def _pick_family(rng: random.Random, candidates: list[_Family]) -> _Family | None:
    if not candidates or rng.random() >= SIBLING_SHARE:
        return None
    weights = [4.0 if f.category == "large_family" else 1.0 for f in candidates]
    return rng.choices(candidates, weights=weights)[0]


def _people(rng: random.Random, year: int, count: int, school_bins: list[str], world: DemoWorld) -> None:
    ids = _Identities()
    sizes = [s.size for s in cat.SCHOOLS]
    families_at: dict[int, list[_Family]] = defaultdict(list)
    pupils: list[_Pupil] = []
    for _ in range(count):
        school = rng.choices(range(len(cat.SCHOOLS)), weights=sizes)[0]
        grade = rng.choices(range(1, 12), weights=GRADE_WEIGHTS)[0]
        iin, birth, female = _draw_pupil(rng, ids, year, grade, rng.random() < 0.49)
        family = _pick_family(rng, [f for f in families_at[school] if f.can_have(birth)])
        if family is None:
            family = _new_family(rng, ids, year, school, birth)
            families_at[school].append(family)
        family.child_births.append(birth)
        pupils.append(_Pupil(iin, female, school, grade, family))

    # Classes of at most CLASS_SIZE pupils per school and grade, lettered in the school's alphabet.
    groups: dict[tuple[int, int], list[_Pupil]] = defaultdict(list)
    for pupil in pupils:
        groups[(pupil.school, pupil.grade)].append(pupil)
    for (school, grade), members in sorted(groups.items(), key=lambda item: item[0]):
        letters = cat.CLASS_LETTERS[cat.SCHOOLS[school].language]
        n_classes = min(len(letters), max(1, math.ceil(len(members) / CLASS_SIZE)))
        rng.shuffle(members)
        for k, pupil in enumerate(members):
            pupil.class_name = f"{grade}{letters[k % n_classes]}"

    students: list[Row] = []
    eligibility: list[Row] = []
    guardians: list[Row] = []
    school_year = years.parse_school_year(f"{year}-{year + 1}")
    for pupil in pupils:
        family, female, grade, iin = pupil.family, pupil.female, pupil.grade, pupil.iin
        name, for_son, for_daughter = family.father
        if family.no_patronymic:
            patronymic = ""
        elif family.kazakh_patronymic:
            patronymic = name + cat.KAZAKH_PATRONYMIC_SUFFIX[female]
        else:
            patronymic = for_daughter if female else for_son
        students.append({
            "iin": iin, "last_name": family.surname[female],
            "first_name": rng.choice(cat.CHILD_NAMES[(family.language, female)]), "patronymic": patronymic,
            "school_bin": school_bins[pupil.school], "grade": str(grade),
            "class_name": pupil.class_name, "enrolled_from": _iso(school_year[0]), "enrolled_to": "",
        })
        if grade <= 4:
            eligibility.append({
                "iin": iin, "category": "primary_grades", "valid_from": _iso(school_year[0]),
                "valid_to": _iso(school_year[1]),
            })
        if family.category:
            eligibility.append({
                "iin": iin, "category": family.category, "valid_from": _iso(family.period[0]),
                "valid_to": _iso(family.period[1]),
            })
        for parent_iin, relation in family.guardians:
            guardians.append({"parent_iin": parent_iin, "student_iin": iin, "relation": relation})
    world.tables["students"] = students
    world.tables["eligibility"] = eligibility
    world.tables["guardians"] = guardians


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
    _people(_rng(seed, "people"), year, students, school_bins, world)
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
