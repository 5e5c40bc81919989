"""Parents' feedback on served meals, and its summary for staff.

One feedback per meal: the first submission is version 1; for 24 hours after it a guardian may change it,
which appends the next version (the highest version wins); after that it is settled. Feedback is taken only
on a meal that was served: a billable meal entry of the child that has not been voided, at most
FEEDBACK_MAX_MEAL_AGE old. Comments are kept as plain text, never interpreted.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from wallet.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from wallet.messages import T_
from wallet.models import (
    FEEDBACK_TAGS,
    Contract,
    LedgerEntry,
    MealFeedback,
    Menu,
    MenuDish,
    School,
    Supplier,
)
from wallet.principals import Principal
from wallet.scope import school_in_scope, schools_in_scope

FEEDBACK_EDIT_WINDOW = dt.timedelta(hours=24)
FEEDBACK_MAX_MEAL_AGE = dt.timedelta(days=14)
MAX_COMMENT = 500
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


@dataclass(frozen=True)
class FeedbackView:
    entry_id: int
    version: int
    rating: int
    tags: list[str]
    comment: str | None
    created_at: dt.datetime
    first_at: dt.datetime

    @property
    def editable_until(self) -> dt.datetime:
        return self.first_at + FEEDBACK_EDIT_WINDOW


def _invalid(field_name: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput("validation_failed", T_("Some fields are not valid."), [FieldError(field_name, message, code)])


def validate_feedback(rating: object, tags: Iterable[object], comment: object) -> tuple[int, list[str], str | None]:
    """Rating 1-5, tags from FEEDBACK_TAGS (each once), a plain-text comment of at most MAX_COMMENT characters."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise _invalid("rating", T_("a whole number from 1 to 5"), "out_of_range")
    tags = list(tags)
    unknown = [t for t in tags if not isinstance(t, str) or t not in FEEDBACK_TAGS]
    if unknown:
        raise _invalid("tags", T_("unknown tags %(tags)r; use %(codes)s", tags=unknown, codes=", ".join(FEEDBACK_TAGS)),
                       "unknown_tag")
    chosen = set(tags)
    ordered = [t for t in FEEDBACK_TAGS if t in chosen]
    text: str | None = None
    if comment is not None:
        if not isinstance(comment, str):
            raise _invalid("comment", T_("a string"))
        text = comment.strip()
        if len(text) > MAX_COMMENT:
            raise _invalid("comment", T_("at most %(limit)s characters", limit=MAX_COMMENT), "too_long")
        if any(unicodedata.category(c) in ("Cc", "Cs") and c not in _ALLOWED_CONTROLS for c in text):
            raise _invalid("comment", T_("control characters are not allowed"), "control_character")
        text = text or None
    return rating, ordered, text


def _versions(session: Session, entry_id: int) -> list[MealFeedback]:
    return list(session.scalars(
        select(MealFeedback).where(MealFeedback.entry_id == entry_id).order_by(MealFeedback.version)))


def _view(versions: Sequence[MealFeedback]) -> FeedbackView:
    latest = versions[-1]
    return FeedbackView(entry_id=latest.entry_id, version=latest.version, rating=latest.rating,
                        tags=latest.tag_list, comment=latest.comment, created_at=latest.created_at,
                        first_at=versions[0].created_at)


def _meal_of_child(session: Session, child_id: uuid.UUID, entry_id: int | None) -> LedgerEntry:
    entry = None
    if entry_id is not None:
        entry = session.scalars(select(LedgerEntry).where(
            LedgerEntry.id == entry_id, LedgerEntry.student_id == child_id, LedgerEntry.kind == "meal")).first()
    if entry is None:
        raise NotFound("meal_not_found", T_("No meal with this id was recorded for this child."))
    return entry


def submit_feedback(
    session: Session, *, parent_iin: str, child_id: uuid.UUID, entry_id: int | None, rating: object,
    tags: Iterable[object] = (), comment: object = None, now: dt.datetime | None = None,
) -> tuple[FeedbackView, bool]:
    """Append a version of the feedback on a served meal; returns it and whether it is the first. Commits."""
    now = now or dt.datetime.now(dt.UTC)
    rating_, tags_, comment_ = validate_feedback(rating, tags, comment)
    entry = _meal_of_child(session, child_id, entry_id)
    if entry.verdict != "billable":
        raise Conflict("meal_not_served", T_("This attempt was refused (not billable): there is no meal to rate."))
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.refers_to == entry.id)) is not None:
        raise Conflict("meal_voided", T_("This meal was voided: there is no meal to rate."))
    if now - entry.served_at > FEEDBACK_MAX_MEAL_AGE:
        raise Conflict("feedback_window_closed",
                       T_("Feedback is taken for %(days)s days after a meal.", days=FEEDBACK_MAX_MEAL_AGE.days))
    supplier_id = session.scalar(select(Contract.supplier_id).where(Contract.id == entry.contract_id)) \
        if entry.contract_id is not None else None
    for attempt in range(3):
        versions = _versions(session, entry.id)
        if versions and now - versions[0].created_at > FEEDBACK_EDIT_WINDOW:
            raise Conflict("feedback_locked", T_("Feedback can be changed for 24 hours after it was first given."))
        row = MealFeedback(
            entry_id=entry.id, version=(versions[-1].version + 1) if versions else 1, student_id=child_id,
            school_id=entry.school_id, supplier_id=supplier_id, serving_day=entry.serving_day,
            meal_type=entry.meal_type, parent_iin=parent_iin, rating=rating_, tags=",".join(tags_),
            comment=comment_, created_at=now,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another version was appended at the same moment: build on it
            session.rollback()
            if attempt == 2:
                raise Conflict("feedback_conflict", T_("The feedback changed meanwhile; send it again.")) from None
            continue
        return _view([*versions, row]), not versions
    raise AssertionError("unreachable")


def latest_feedback(session: Session, child_id: uuid.UUID, entry_id: int | None) -> FeedbackView:
    entry = _meal_of_child(session, child_id, entry_id)
    versions = _versions(session, entry.id)
    if not versions:
        raise NotFound("feedback_not_found", T_("No feedback was given on this meal."))
    return _view(versions)


# --- the staff summary ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    count: int = 0
    rating_sum: int = 0
    ratings: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    tags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEEDBACK_TAGS, 0))

    @property
    def average(self) -> float | None:
        return round(self.rating_sum / self.count, 2) if self.count else None


@dataclass
class DishTally:
    name_kk: str
    name_ru: str
    name_en: str
    tally: Tally


@dataclass
class GroupTally:
    school: School
    supplier: Supplier | None
    tally: Tally
    dishes: list[DishTally] = field(default_factory=list)


def summary_scope(session: Session, principal: Principal, school_bin: str | None) -> tuple[Any, int | None, int | None]:
    """The schools a staff member may see (wallet.scope), the school asked for, and a supplier's own id:
    suppliers see feedback on their own contracts' meals only."""
    school_id = school_in_scope(session, principal, school_bin).id if school_bin is not None else None
    supplier_id = None
    if principal.role == "supplier":
        supplier_id = session.scalar(select(Supplier.id).where(Supplier.bin == (principal.supplier_bin or "")))
        if supplier_id is None:
            raise Forbidden("forbidden", T_("A supplier's token names no known supplier."))
    return schools_in_scope(principal), school_id, supplier_id


def _aggregates(row_alias: Any) -> list[Any]:
    columns = [func.count().label("n"), func.sum(row_alias.rating).label("total")]
    columns += [func.sum(case((row_alias.rating == k, 1), else_=0)).label(f"r{k}") for k in range(1, 6)]
    padded = literal(",") + row_alias.tags + literal(",")
    columns += [func.sum(case((padded.like(f"%,{tag},%"), 1), else_=0)).label(f"t_{tag}") for tag in FEEDBACK_TAGS]
    return columns


def _tally(row: Any) -> Tally:
    tally = Tally(count=int(row.n), rating_sum=int(row.total or 0))
    tally.ratings = {k: int(getattr(row, f"r{k}") or 0) for k in range(1, 6)}
    tally.tags = {tag: int(getattr(row, f"t_{tag}") or 0) for tag in FEEDBACK_TAGS}
    return tally


def feedback_summary(
    session: Session, principal: Principal, *, school_bin: str | None, day_from: dt.date, day_to: dt.date,
    after_school_id: int | None, limit: int,
) -> tuple[list[GroupTally], int | None]:
    """Latest feedback versions per school x supplier, and per dish of the rated meals' menus, for the
    schools the caller may see; a page of schools at a time (returns the last school id when more follow)."""
    schools, school_id, supplier_id = summary_scope(session, principal, school_bin)
    newer = aliased(MealFeedback)
    latest = (
        select(MealFeedback)
        .where(MealFeedback.serving_day >= day_from, MealFeedback.serving_day <= day_to,
               ~select(newer.id).where(newer.entry_id == MealFeedback.entry_id,
                                       newer.version > MealFeedback.version).exists())
    )
    latest = latest.where(MealFeedback.school_id.in_(schools))
    if supplier_id is not None:
        latest = latest.where(MealFeedback.supplier_id == supplier_id)
    if school_id is not None:
        latest = latest.where(MealFeedback.school_id == school_id)
    f = latest.subquery("f")
    pages = select(f.c.school_id).distinct().order_by(f.c.school_id).limit(limit + 1)
    if after_school_id is not None:
        pages = pages.where(f.c.school_id > after_school_id)
    school_ids = list(session.scalars(pages))
    more = len(school_ids) > limit
    school_ids = school_ids[:limit]
    if not school_ids:
        return [], None
    groups_query = (
        select(f.c.school_id, f.c.supplier_id, *_aggregates(f.c))
        .where(f.c.school_id.in_(school_ids))
        .group_by(f.c.school_id, f.c.supplier_id)
    )
    dishes_query = (
        select(f.c.school_id, f.c.supplier_id, MenuDish.name_kk, MenuDish.name_ru, MenuDish.name_en,
               *_aggregates(f.c))
        .join(Menu, (Menu.school_id == f.c.school_id) & (Menu.day == f.c.serving_day)
              & (Menu.meal_type == f.c.meal_type))
        .join(MenuDish, MenuDish.menu_id == Menu.id)
        .where(f.c.school_id.in_(school_ids))
        .group_by(f.c.school_id, f.c.supplier_id, MenuDish.name_kk, MenuDish.name_ru, MenuDish.name_en)
    )
    schools = {s.id: s for s in session.scalars(select(School).where(School.id.in_(school_ids)))}
    groups: dict[tuple[int, int | None], GroupTally] = {}
    supplier_ids: set[int] = set()
    for row in session.execute(groups_query):
        groups[(row.school_id, row.supplier_id)] = GroupTally(schools[row.school_id], None, _tally(row))
        if row.supplier_id is not None:
            supplier_ids.add(row.supplier_id)
    suppliers = {s.id: s for s in session.scalars(select(Supplier).where(Supplier.id.in_(supplier_ids)))} \
        if supplier_ids else {}
    for (_, supplier_id), group in groups.items():
        group.supplier = suppliers.get(supplier_id) if supplier_id is not None else None
    for row in session.execute(dishes_query):
        groups[(row.school_id, row.supplier_id)].dishes.append(
            DishTally(row.name_kk, row.name_ru, row.name_en, _tally(row)))
    for group in groups.values():
        group.dishes.sort(key=lambda d: (-d.tally.count, d.name_ru))
    ordered = sorted(groups.values(), key=lambda g: (g.school.id, g.supplier.id if g.supplier else 0))
    return ordered, (school_ids[-1] if more else None)

