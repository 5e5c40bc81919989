"""The demo's pupils, their families and guardians, and their grounds for free meals (wallet.demo.generator).

Every IIN is a serial-0000 one (DEMO_SERIAL), valid and belonging to no real person; see the generator's
docstring for how many a world can hold.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

from wallet.demo import catalogue as cat
from wallet.demo.world import DemoWorld, Row, iso_day
from wallet.identifiers import make_iin
from wallet.vouchers import years

DEMO_SERIAL = 0  # the IIN serial this demo reserves for its made-up people
# Relative number of pupils per grade 1..11 (fewer stay on for grades 10-11).
GRADE_WEIGHTS = (1.15, 1.15, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.55)
CLASS_SIZE = 14  # small classes, so a demo of a few hundred pupils still has 1А, 1Б, ...
SIBLING_SHARE = 0.22  # chance that a pupil is a brother or sister of a pupil already drawn
# A family's ground for free meals beyond grades 1-4, drawn once per family: (upper bound, category).
FAMILY_CATEGORIES = (
    (0.05, "social_assistance"), (0.08, "low_income"), (0.14, "large_family"), (0.15, "orphan"),
)


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


def add_people(rng: random.Random, year: int, count: int, school_bins: list[str], world: DemoWorld) -> None:
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
            "class_name": pupil.class_name, "enrolled_from": iso_day(school_year[0]), "enrolled_to": "",
        })
        if grade <= 4:
            eligibility.append({
                "iin": iin, "category": "primary_grades", "valid_from": iso_day(school_year[0]),
                "valid_to": iso_day(school_year[1]),
            })
        if family.category:
            eligibility.append({
                "iin": iin, "category": family.category, "valid_from": iso_day(family.period[0]),
                "valid_to": iso_day(family.period[1]),
            })
        for parent_iin, relation in family.guardians:
            guardians.append({"parent_iin": parent_iin, "student_iin": iin, "relation": relation})
    world.tables["students"] = students
    world.tables["eligibility"] = eligibility
    world.tables["guardians"] = guardians
