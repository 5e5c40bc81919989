"""A child's history of meals: entries between two serving days, newest first, a page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, and_, bindparam, select, tuple_
from sqlalchemy.orm import Session

from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_
from wallet.models import LedgerEntry, MealFeedback, Menu, MenuDish
from wallet.parents.children import Child
from wallet.parents.menus import Dish, dish

MAX_RANGE_DAYS = 366


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
    # The terminal warned the cook that the meal held an allergen of the child, and the cook confirmed.
    allergen_warning_confirmed: bool = False


_entries, _feedback = LedgerEntry.__table__, MealFeedback.__table__
_menus, _dishes = Menu.__table__, MenuDish.__table__


def check_range(day_from: dt.date, day_to: dt.date) -> None:
    if day_from > day_to:
        raise InvalidInput("validation_failed", T_("`from` is after `to`."),
                           [FieldError("query/from", T_("must not be after `to`"), "range_order")])
    if (day_to - day_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput("range_too_long", T_("A range covers at most %(days)s days.", days=MAX_RANGE_DAYS),
                           [FieldError("query/from", T_("at most %(days)s days before `to`", days=MAX_RANGE_DAYS),
                                       "range_too_long")])


def _history_page(after: bool) -> Any:
    """A page of a pupil's entries with, in the same round trip, each meal's void, its latest feedback and
    the dishes of its menu (one row per dish; a meal without a menu has one row with null dish columns)."""
    voids = _entries.alias("voids")
    newest = _feedback.alias("newest")
    page = (
        select(_entries.c.id, _entries.c.kind, _entries.c.serving_day, _entries.c.meal_type, _entries.c.served_at,
               _entries.c.verdict, _entries.c.reasons, _entries.c.school_id, _entries.c.refers_to,
               _entries.c.allergen_warning)
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
        (entry_id, kind, day, meal_type, served_at, verdict, reasons, school_id, refers_to, allergen_warning,
         void_id, voided_at, version, rating, position, kk, ru, en, grams, kcal, allergens) = row
        if not items or items[-1].entry_id != entry_id:
            items.append(HistoryItem(
                entry_id=entry_id, kind=kind, serving_day=day, meal_type=meal_type, served_at=served_at,
                billable=verdict == "billable" and kind == "meal", reasons=[x for x in reasons.split(",") if x],
                school_id=school_id, refers_to=refers_to, voided_by=void_id, voided_at=voided_at,
                feedback_version=version, feedback_rating=rating,
                allergen_warning_confirmed=allergen_warning is not None))
        if position is not None:
            items[-1].menu.append(dish(position, kk, ru, en, grams, kcal, allergens))
    more = len(items) > limit
    items = items[:limit]
    next_key = (items[-1].serving_day, items[-1].entry_id) if more and items else None
    return items, next_key
