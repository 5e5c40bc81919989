"""A child's meals today: per meal type served, not yet, not a serving day, or not eligible."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Date, Engine, String, bindparam, cast, func, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from wallet.categories import CATEGORY_PRIORITY
from wallet.models import (
    MEAL_TYPES,
    CalendarDay,
    Contract,
    ContractPrice,
    LedgerEntry,
    School,
    Student,
    StudentEligibility,
)
from wallet.models.base import UTCDateTime
from wallet.parents.access_log import AccessNote, log_params, logged_read, with_access_log
from wallet.parents.children import (
    CONSENT_GATE,
    DEFAULT_ZONE,
    ONE_CHILD_CONSENT,
    Child,
    assemble_children,
    child_not_found,
    find_child,
    local_today,
)
from wallet.prepared import PreparedRead, run_prepared
from wallet.vouchers.consent_rule import consent_required

MEAL_STATUSES = ("served", "not_yet", "not_serving_day", "not_eligible")


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


_entries, _days, _eligibility = LedgerEntry.__table__, CalendarDay.__table__, StudentEligibility.__table__
_contracts, _prices = Contract.__table__, ContractPrice.__table__
_students, _schools = Student.__table__, School.__table__  # the child lookup's, which the facts correlate to


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
_ONE_CHILD_TODAY = ONE_CHILD_CONSENT.add_columns(_FACTS_JSON)
_ONE_CHILD_TODAY_LOGGED = with_access_log(_ONE_CHILD_TODAY, CONSENT_GATE)
# The same two statements for the driver (child_today_prepared).
_PREPARED_TODAY_LOGGED = PreparedRead(_ONE_CHILD_TODAY_LOGGED)
_PREPARED_TODAY = PreparedRead(_TODAY)


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
    day = local_today(DEFAULT_ZONE, now)
    rows = logged_read(session, _ONE_CHILD_TODAY, _ONE_CHILD_TODAY_LOGGED,
                       {"parent_iin": parent_iin, "child_id": child_id, "day": day}, log, now, gated=True)
    child, school_id, facts = _child_and_facts(rows, now, day)
    if school_id is None or facts is None:
        return child, today_status(session, child)
    return child, _status_of(child, facts)


def _child_and_facts(rows: Sequence[Any], now: dt.datetime, day: dt.date) -> tuple[Child, int | None, Any]:
    """The child of the one-child statement's rows (refused when none or consent is withheld), its school's id
    and that school's facts of `day` (None when the statement could not give them)."""
    if not rows:
        raise child_not_found()
    if rows[0][-2]:
        raise consent_required()
    child = assemble_children([row[:-2] for row in rows], now)[0]
    school_id = child.school.id if child.school is not None else None
    facts = next((row[-1] for row in rows if row[8] == school_id), None) if child.today == day else None
    return child, school_id, facts


def child_today_prepared(engine: Engine, parent_iin: str, child_id: uuid.UUID | None, now: dt.datetime,
                         log: AccessNote) -> tuple[Child, TodayStatus]:
    """child_today on PostgreSQL without an ORM session: the same statement, sent through the driver as a
    prepared statement in autocommit (wallet.prepared), so the access-log row is committed by the statement
    that authorizes the read, before the answer is built. The same answers as child_today
    (tests/integration/test_parent_today.py)."""
    if child_id is None:
        raise child_not_found()
    day = local_today(DEFAULT_ZONE, now)
    [rows] = run_prepared(engine, [(_PREPARED_TODAY_LOGGED, {
        "parent_iin": parent_iin, "child_id": child_id, "day": day, **log_params(log, now)})])
    child, school_id, facts = _child_and_facts(rows, now, day)
    if school_id is None or facts is None:
        [rows] = run_prepared(engine, [(_PREPARED_TODAY, {
            "child_id": child.id, "day": child.today, "school_id": school_id if school_id is not None else -1})])
        return child, _status_of(child, rows)
    return child, _status_of(child, facts)
