"""Reads for parents: their children, today's meals, the history of meals, the school's menu.

A child is found only through the parent's own guardian links, in one query that looks the same whether
the child does not exist or belongs to someone else, so the answer and its timing give nothing away.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    not_,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from wallet.errors import FieldError, InvalidInput, NotFound
from wallet.ingest.context import CATEGORY_PRIORITY
from wallet.models import (
    MEAL_TYPES,
    CalendarDay,
    ChildAccessLog,
    ChildAllergy,
    Contract,
    ContractPrice,
    Enrollment,
    GuardianLink,
    LedgerEntry,
    MealFeedback,
    Menu,
    MenuDish,
    School,
    Student,
    StudentEligibility,
)
from wallet.models.base import UTCDateTime
from wallet.parents.access_log import record_access
from wallet.vouchers.consent_rule import consent_required, consent_withheld

DEFAULT_ZONE = "Asia/Almaty"
MAX_RANGE_DAYS = 366
MEAL_STATUSES = ("served", "not_yet", "not_serving_day", "not_eligible")


class ChildNotFound(NotFound):
    """No child with this id among the caller's children (whether or not it exists)."""


def child_not_found() -> ChildNotFound:
    return ChildNotFound("child_not_found", "No child with this id is linked to you.")


@dataclass(frozen=True)
class SchoolRef:
    id: int
    bin: str
    name_kk: str
    name_ru: str
    timezone: str


@dataclass(frozen=True)
class Placement:
    """An enrollment: a school, a class, a span of dates (end inclusive, open when None)."""

    school: SchoolRef
    grade: int
    class_name: str
    valid_from: dt.date
    valid_to: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Child:
    id: uuid.UUID
    first_name: str
    last_name: str
    relation: str
    placements: tuple[Placement, ...]
    today: dt.date
    current: Placement | None  # the enrollment covering today, else the latest one

    @property
    def school(self) -> SchoolRef | None:
        return self.current.school if self.current else None

    @property
    def enrolled_today(self) -> bool:
        return self.current is not None and self.current.covers(self.today)

    def placement_on(self, day: dt.date) -> Placement | None:
        return next((p for p in self.placements if p.covers(day)), self.current)


@dataclass(frozen=True)
class MealStatus:
    meal_type: str
    status: str
    entry_id: int | None = None
    served_at: dt.datetime | None = None


@dataclass(frozen=True)
class TodayStatus:
    day: dt.date
    is_serving_day: bool
    enrolled: bool
    meals: list[MealStatus]


@dataclass(frozen=True)
class Dish:
    position: int
    name_kk: str
    name_ru: str
    name_en: str
    grams: int
    kcal: int
    allergens: tuple[str, ...]


@dataclass
class HistoryItem:
    entry_id: int
    kind: str
    serving_day: dt.date
    meal_type: str
    served_at: dt.datetime
    billable: bool
    reasons: list[str]
    school_id: int
    refers_to: int | None
    voided_by: int | None = None
    voided_at: dt.datetime | None = None
    menu: list[Dish] = field(default_factory=list)
    feedback_rating: int | None = None
    feedback_version: int | None = None


@dataclass(frozen=True)
class DayMenu:
    day: dt.date
    school: SchoolRef | None
    day_kind: str | None
    menus: dict[str, list[Dish]]
    child_allergens: tuple[str, ...]


# --- children -----------------------------------------------------------------------------------------------


# The hot reads are Core statements built once, with bound parameters, run on the session's connection: a
# parent's read costs a few round trips and little Python (tests/bench/bench_parent_reads.py).
_links, _students, _enrollments, _schools = (
    GuardianLink.__table__, Student.__table__, Enrollment.__table__, School.__table__)
_entries, _days, _eligibility = LedgerEntry.__table__, CalendarDay.__table__, StudentEligibility.__table__
_contracts, _prices, _feedback = Contract.__table__, ContractPrice.__table__, MealFeedback.__table__
_menus, _dishes = Menu.__table__, MenuDish.__table__

_CHILDREN = (
    select(_links.c.relation, _students.c.id, _students.c.first_name, _students.c.last_name,
           _enrollments.c.grade, _enrollments.c.class_name, _enrollments.c.valid_from, _enrollments.c.valid_to,
           _schools.c.id, _schools.c.bin, _schools.c.name_kk, _schools.c.name_ru, _schools.c.timezone)
    .select_from(
        _links.join(_students, _students.c.id == _links.c.student_id)
        .outerjoin(_enrollments, _enrollments.c.student_id == _students.c.id)
        .outerjoin(_schools, _schools.c.id == _enrollments.c.school_id))
    .where(_links.c.parent_iin == bindparam("parent_iin"))
)
_ONE_CHILD = _CHILDREN.where(_links.c.student_id == bindparam("child_id"))


@dataclass(frozen=True)
class AccessNote:
    """What a read is about to be logged as (wallet.parents.access_log): who, what, detail."""

    actor_role: str
    actor_id: str
    action: str
    detail: str | None = None


def _logging(lookup: Any, links_condition: Any) -> Any:
    """On PostgreSQL, the lookup with the access-log insert in the same statement (a data-modifying CTE): one
    row per child the lookup finds, written by the statement that authorizes the read, with synchronous_commit
    off for that transaction only (see record_access)."""
    rows = select(
        bindparam("log_at", type_=UTCDateTime), _links.c.student_id, bindparam("log_role", type_=String),
        bindparam("log_actor", type_=String), bindparam("log_action", type_=String),
        bindparam("log_detail", type_=String),
    ).where(links_condition, func.set_config("synchronous_commit", "off", True).is_not(None))
    logged = insert(ChildAccessLog.__table__).from_select(
        ["at", "student_id", "actor_role", "actor_id", "action", "detail"], rows).cte("logged")
    return lookup.add_cte(logged)


_CHILDREN_LOGGED = _logging(_CHILDREN, _links.c.parent_iin == bindparam("parent_iin"))
_THE_LINK = and_(_links.c.parent_iin == bindparam("parent_iin"), _links.c.student_id == bindparam("child_id"))
_ONE_CHILD_LOGGED = _logging(_ONE_CHILD, _THE_LINK)
# With the consent rule (wallet.vouchers.consent_rule) as a last column, and the read logged only when the
# rule lets the child's data be shown: a refused read is not a read.
_ONE_CHILD_CONSENT = _ONE_CHILD.add_columns(consent_withheld(_students.c.id).label("withheld"))
_CONSENT_GATE = and_(_THE_LINK, not_(consent_withheld(_links.c.student_id)))
_ONE_CHILD_CONSENT_LOGGED = _logging(_ONE_CHILD_CONSENT, _CONSENT_GATE)


def _lookup(session: Session, plain: Any, logged: Any, params: dict[str, Any], note: AccessNote | None,
            now: dt.datetime, *, gated: bool = False) -> list[Any]:
    """`gated`: the statements end with the consent rule's `withheld` column, and a withheld child's read
    is not logged."""
    conn = session.connection()
    if note is not None and conn.dialect.name == "postgresql":
        rows = conn.execute(logged, {**params, "log_at": now, "log_role": note.actor_role,
                                     "log_actor": note.actor_id, "log_action": note.action,
                                     "log_detail": note.detail[:200] if note.detail else None}).all()
        if not autocommitting(conn):
            session.commit()
        return rows
    rows = conn.execute(plain, params).all()
    read = [r[1] for r in rows if not (gated and r[-1])]
    if note is not None and read:
        record_access(session, actor_role=note.actor_role, actor_id=note.actor_id,
                      student_ids=read, action=note.action, detail=note.detail, now=now)
    return rows


def _local_today(zone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(zone)).date()


def _assemble(rows: Iterable, now: dt.datetime) -> list[Child]:  # type: ignore[type-arg]
    by_child: dict[uuid.UUID, tuple[tuple, list[Placement]]] = {}  # type: ignore[type-arg]
    for row in rows:
        relation, sid, first, last, grade, class_name, vfrom, vto, school_id, bin_, kk, ru, zone = row
        _, placements = by_child.setdefault(sid, ((relation, first, last), []))
        if school_id is not None:
            placements.append(Placement(SchoolRef(school_id, bin_, kk, ru, zone), grade, class_name, vfrom, vto))
    children = []
    for sid, ((relation, first, last), placements) in by_child.items():
        placements.sort(key=lambda p: p.valid_from, reverse=True)
        zone = placements[0].school.timezone if placements else DEFAULT_ZONE
        today = _local_today(zone, now)
        current = next((p for p in placements if p.covers(today)), placements[0] if placements else None)
        if current is not None and current.school.timezone != zone:
            today = _local_today(current.school.timezone, now)
        children.append(Child(id=sid, first_name=first, last_name=last, relation=relation,
                              placements=tuple(placements), today=today, current=current))
    children.sort(key=lambda c: (c.last_name, c.first_name, str(c.id)))
    return children


def autocommitting(conn: Any) -> bool:
    """Whether statements on this connection commit by themselves (see read_only)."""
    return bool(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


def read_only(session: Session) -> None:
    """Run this request's reads without a transaction on PostgreSQL (autocommit: no BEGIN and COMMIT round
    trips; each statement sees committed data). Call before the first statement; SQLite is left as it is."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def list_children(session: Session, parent_iin: str, now: dt.datetime, log: AccessNote | None = None) -> list[Child]:
    """The parent's children; with `log`, each one found is written to the access log (see find_child)."""
    return _assemble(_lookup(session, _CHILDREN, _CHILDREN_LOGGED, {"parent_iin": parent_iin}, log, now), now)


def find_child(session: Session, parent_iin: str, child_id: uuid.UUID | None, now: dt.datetime,
               log: AccessNote | None = None, *, consent: bool = False) -> Child:
    """The parent's child with this id; ChildNotFound otherwise (also for a None id: a malformed one).

    With `log`, the read is written to the access log when (and only when) the child is found: on
    PostgreSQL by the lookup statement itself, elsewhere right after it. Validate the request first.

    With `consent`, a child of the parent whose data the consent rule withholds (vouchers, but no accepted
    consent: wallet.vouchers.consent_rule) is Forbidden `consent_required`, checked by the same statement,
    and its read is not logged.
    """
    if child_id is None:
        raise child_not_found()
    params = {"parent_iin": parent_iin, "child_id": child_id}
    if not consent:
        rows = _lookup(session, _ONE_CHILD, _ONE_CHILD_LOGGED, params, log, now)
    else:
        rows = _lookup(session, _ONE_CHILD_CONSENT, _ONE_CHILD_CONSENT_LOGGED, params, log, now, gated=True)
        if rows and rows[0][-1]:
            raise consent_required()
        rows = [row[:-1] for row in rows]
    if not rows:
        raise child_not_found()
    return _assemble(rows, now)[0]


# --- today ----------------------------------------------------------------------------------------------------


def _nulls(*types: Any) -> list[Any]:
    return [cast(null(), t) for t in types]


def _day_facts(child_id: Any, day: Any, school_id: Any, outer: tuple[Any, ...] = ()) -> Any:
    """A day's facts in one UNION ALL: the child's entries, the day's kind at the school, the child's
    eligibility categories and the school's priced (category, meal type) pairs. Columns: k, a, b, c, n, m, t.
    `outer`: the enclosing statement's tables that `child_id` and `school_id` are columns of."""
    parts = (
        select(literal_column("'entry'", String).label("k"), _entries.c.kind.label("a"),
               _entries.c.meal_type.label("b"), _entries.c.verdict.label("c"), _entries.c.id.label("n"),
               _entries.c.refers_to.label("m"), _entries.c.served_at.label("t"))
        .where(_entries.c.student_id == child_id, _entries.c.serving_day == day),
        select(literal_column("'day'", String), _days.c.kind,
               *_nulls(String, String, BigInteger, BigInteger, UTCDateTime))
        .where(_days.c.school_id == school_id, _days.c.day == day),
        select(literal_column("'cat'", String), _eligibility.c.category_code,
               *_nulls(String, String, BigInteger, BigInteger, UTCDateTime))
        .where(_eligibility.c.student_id == child_id, _eligibility.c.valid_from <= day,
               _eligibility.c.valid_to >= day),
        select(literal_column("'price'", String), _prices.c.category_code, _prices.c.meal_type,
               *_nulls(String, BigInteger, BigInteger, UTCDateTime))
        .select_from(_prices.join(_contracts, _contracts.c.id == _prices.c.contract_id))
        .where(_contracts.c.school_id == school_id, _contracts.c.valid_from <= day, _contracts.c.valid_to >= day),
    )
    return union_all(*(part.correlate(*outer) for part in parts) if outer else parts)


# A day's facts for today_status, with the child, the day and the school as parameters.
_TODAY = _day_facts(bindparam("child_id"), bindparam("day"), bindparam("school_id"))

# On PostgreSQL, the same facts as a JSON array on each row of the child lookup, for the row's school and the
# day asked for (meals/today: lookup, consent, access log and the day in one round trip; child_today).
_facts = _day_facts(_students.c.id, bindparam("day", type_=Date), _schools.c.id,
                    (_students, _schools)).subquery("facts")
_FACTS_JSON = (
    select(func.json_agg(func.json_build_array(_facts.c.k, _facts.c.a, _facts.c.b, _facts.c.c, _facts.c.n,
                                               _facts.c.m, _facts.c.t)))
    .scalar_subquery().label("facts")
)
_ONE_CHILD_TODAY = _ONE_CHILD_CONSENT.add_columns(_FACTS_JSON)
_ONE_CHILD_TODAY_LOGGED = _logging(_ONE_CHILD_TODAY, _CONSENT_GATE)


def _rank(category: str) -> tuple[int, str]:
    return (CATEGORY_PRIORITY.index(category) if category in CATEGORY_PRIORITY else 99, category)


def today_status(session: Session, child: Child) -> TodayStatus:
    """Per meal type: served (a billable meal not voided), not yet, not a serving day, or not eligible."""
    school = child.school
    rows = session.connection().execute(
        _TODAY, {"child_id": child.id, "day": child.today, "school_id": school.id if school is not None else -1})
    return _status_of(child, rows)


def _status_of(child: Child, rows: Iterable[Any]) -> TodayStatus:
    """Today's status from the rows of `_day_facts` (or their JSON arrays: `t` is then an ISO string)."""
    day = child.today
    entries, categories, priced = [], set(), set()
    day_kind: str | None = None
    for k, a, b, c, n, m, t in rows:
        if k == "entry":
            entries.append((n, a, b, c, dt.datetime.fromisoformat(t) if isinstance(t, str) else t, m))
        elif k == "day":
            day_kind = a
        elif k == "cat":
            categories.add(a)
        else:
            priced.add((a, b))
    voided = {refers_to for _, kind, _, _, _, refers_to in entries if kind == "void"}
    served: dict[str, tuple[int, dt.datetime]] = {}
    for entry_id, kind, meal_type, verdict, served_at, _ in sorted(entries):
        if kind == "meal" and verdict == "billable" and entry_id not in voided:
            served.setdefault(meal_type, (entry_id, served_at))
    enrolled = child.enrolled_today
    category = min(categories, key=_rank) if categories else None
    eligible_types = {meal for cat, meal in priced if cat == category} if (category and enrolled) else set()
    meals = []
    for meal_type in MEAL_TYPES:
        if meal_type in served:
            entry_id, served_at = served[meal_type]
            meals.append(MealStatus(meal_type, "served", entry_id, served_at))
        elif day_kind != "serving":
            meals.append(MealStatus(meal_type, "not_serving_day"))
        elif meal_type not in eligible_types:
            meals.append(MealStatus(meal_type, "not_eligible"))
        else:
            meals.append(MealStatus(meal_type, "not_yet"))
    return TodayStatus(day=day, is_serving_day=day_kind == "serving", enrolled=enrolled, meals=meals)


def child_today(session: Session, parent_iin: str, child_id: uuid.UUID | None, now: dt.datetime,
                log: AccessNote) -> tuple[Child, TodayStatus]:
    """find_child(..., consent=True) and today_status, in one round trip on PostgreSQL.

    The lookup statement carries the day's facts for each of the child's schools, for the day it is now at
    the default zone's schools; when the child's school keeps another day (another zone), or on SQLite, the
    facts are read by a second statement as today_status does.
    """
    if child_id is None:
        raise child_not_found()
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        child = find_child(session, parent_iin, child_id, now, log=log, consent=True)
        return child, today_status(session, child)
    day = _local_today(DEFAULT_ZONE, now)
    rows = _lookup(session, _ONE_CHILD_TODAY, _ONE_CHILD_TODAY_LOGGED,
                   {"parent_iin": parent_iin, "child_id": child_id, "day": day}, log, now, gated=True)
    if not rows:
        raise child_not_found()
    if rows[0][-2]:
        raise consent_required()
    child = _assemble([row[:-2] for row in rows], now)[0]
    school_id = child.school.id if child.school is not None else None
    facts = next((row[-1] for row in rows if row[8] == school_id), None) if child.today == day else None
    if school_id is None or facts is None:
        return child, today_status(session, child)
    return child, _status_of(child, facts)


# --- history --------------------------------------------------------------------------------------------------


def check_range(day_from: dt.date, day_to: dt.date) -> None:
    if day_from > day_to:
        raise InvalidInput("validation_failed", "`from` is after `to`.",
                           [FieldError("query/from", "must not be after `to`", "range_order")])
    if (day_to - day_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput("range_too_long", f"A range covers at most {MAX_RANGE_DAYS} days.",
                           [FieldError("query/from", f"at most {MAX_RANGE_DAYS} days before `to`", "range_too_long")])


def _history_page(after: bool) -> Any:
    """A page of a pupil's entries with, in the same round trip, each meal's void, its latest feedback and
    the dishes of its menu (one row per dish; a meal without a menu has one row with null dish columns)."""
    voids = _entries.alias("voids")
    newest = _feedback.alias("newest")
    page = (
        select(_entries.c.id, _entries.c.kind, _entries.c.serving_day, _entries.c.meal_type, _entries.c.served_at,
               _entries.c.verdict, _entries.c.reasons, _entries.c.school_id, _entries.c.refers_to)
        .where(_entries.c.student_id == bindparam("child_id"), _entries.c.serving_day >= bindparam("day_from"),
               _entries.c.serving_day <= bindparam("day_to"))
        .order_by(_entries.c.serving_day.desc(), _entries.c.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    if after:
        page = page.where(tuple_(_entries.c.serving_day, _entries.c.id)
                          < tuple_(bindparam("after_day", type_=Date), bindparam("after_id", type_=BigInteger)))
    page = page.subquery("page")
    latest_version = (select(_feedback.c.version).where(_feedback.c.entry_id == page.c.id)
                      .order_by(_feedback.c.version.desc()).limit(1).scalar_subquery())
    return (
        select(*page.c, voids.c.id, voids.c.received_at, newest.c.version, newest.c.rating, _dishes.c.position,
               _dishes.c.name_kk, _dishes.c.name_ru, _dishes.c.name_en, _dishes.c.grams, _dishes.c.kcal,
               _dishes.c.allergens)
        .select_from(
            page.outerjoin(voids, voids.c.refers_to == page.c.id)
            .outerjoin(newest, and_(newest.c.entry_id == page.c.id, newest.c.version == latest_version))
            .outerjoin(_menus, and_(page.c.kind == "meal", _menus.c.school_id == page.c.school_id,
                                    _menus.c.day == page.c.serving_day, _menus.c.meal_type == page.c.meal_type))
            .outerjoin(_dishes, _dishes.c.menu_id == _menus.c.id))
        .order_by(page.c.serving_day.desc(), page.c.id.desc(), _dishes.c.position)
    )


_HISTORY, _HISTORY_AFTER = _history_page(after=False), _history_page(after=True)
_MENUS = (
    select(_menus.c.school_id, _menus.c.day, _menus.c.meal_type, _dishes.c.position, _dishes.c.name_kk,
           _dishes.c.name_ru, _dishes.c.name_en, _dishes.c.grams, _dishes.c.kcal, _dishes.c.allergens)
    .select_from(_menus.join(_dishes, _dishes.c.menu_id == _menus.c.id))
    .where(_menus.c.school_id.in_(bindparam("schools", expanding=True)),
           _menus.c.day.in_(bindparam("days", expanding=True)),
           _menus.c.meal_type.in_(bindparam("meal_types", expanding=True)))
    .order_by(_menus.c.school_id, _menus.c.day, _menus.c.meal_type, _dishes.c.position)
)


def meal_history(
    session: Session, child: Child, day_from: dt.date, day_to: dt.date, *,
    after: tuple[dt.date, int] | None, limit: int,
) -> tuple[list[HistoryItem], tuple[dt.date, int] | None]:
    """Entries about the child between two serving days, newest first, a page at a time, in one query.

    Returns the page and the key to continue after (None on the last page). Refused attempts are listed
    (not billable, with reasons); voids are listed as such and mark the meal they void.
    """
    check_range(day_from, day_to)
    params: dict[str, Any] = {"child_id": child.id, "day_from": day_from, "day_to": day_to, "limit": limit + 1}
    if after is not None:
        params.update(after_day=after[0], after_id=after[1])
    items: list[HistoryItem] = []
    for row in session.connection().execute(_HISTORY_AFTER if after is not None else _HISTORY, params):
        (entry_id, kind, day, meal_type, served_at, verdict, reasons, school_id, refers_to, void_id, voided_at,
         version, rating, position, kk, ru, en, grams, kcal, allergens) = row
        if not items or items[-1].entry_id != entry_id:
            items.append(HistoryItem(
                entry_id=entry_id, kind=kind, serving_day=day, meal_type=meal_type, served_at=served_at,
                billable=verdict == "billable" and kind == "meal", reasons=[x for x in reasons.split(",") if x],
                school_id=school_id, refers_to=refers_to, voided_by=void_id, voided_at=voided_at,
                feedback_version=version, feedback_rating=rating))
        if position is not None:
            items[-1].menu.append(
                Dish(position, kk, ru, en, grams, kcal, tuple(a for a in allergens.split(",") if a)))
    more = len(items) > limit
    items = items[:limit]
    next_key = (items[-1].serving_day, items[-1].entry_id) if more and items else None
    return items, next_key


def menus_for(
    session: Session, keys: set[tuple[int, dt.date, str]]
) -> dict[tuple[int, dt.date, str], list[Dish]]:
    """The dishes of each (school, day, meal type) that has a menu."""
    if not keys:
        return {}
    rows = session.connection().execute(_MENUS, {
        "schools": sorted({k[0] for k in keys}), "days": sorted({k[1] for k in keys}),
        "meal_types": sorted({k[2] for k in keys})})
    out: dict[tuple[int, dt.date, str], list[Dish]] = {}
    for school_id, day, meal_type, position, kk, ru, en, grams, kcal, allergens in rows:
        key = (school_id, day, meal_type)
        if key in keys:
            out.setdefault(key, []).append(
                Dish(position, kk, ru, en, grams, kcal, tuple(a for a in allergens.split(",") if a)))
    return out


# --- menu -------------------------------------------------------------------------------------------------------


def child_allergens(session: Session, child_id: uuid.UUID) -> tuple[str, ...]:
    row = session.get(ChildAllergy, child_id)
    return tuple(row.allergen_list) if row else ()


def day_menu(session: Session, child: Child, day: dt.date) -> DayMenu:
    """The menu of the child's school on `day` (the school the child attends that day, else the current one)."""
    placement = child.placement_on(day)
    allergens = child_allergens(session, child.id)
    if placement is None:
        return DayMenu(day=day, school=None, day_kind=None, menus={}, child_allergens=allergens)
    school = placement.school
    day_kind = session.scalar(
        select(CalendarDay.kind).where(CalendarDay.school_id == school.id, CalendarDay.day == day))
    found = menus_for(session, {(school.id, day, m) for m in MEAL_TYPES})
    menus = {meal: found[(school.id, day, meal)] for meal in MEAL_TYPES if (school.id, day, meal) in found}
    return DayMenu(day=day, school=school, day_kind=day_kind, menus=menus, child_allergens=allergens)


def allergen_warnings(dish: Dish, child_allergens: Iterable[str]) -> list[str]:
    wanted = set(child_allergens)
    return [a for a in dish.allergens if a in wanted]
