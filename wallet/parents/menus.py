"""The school's menus as parents see them: a day's dishes with the child's allergens marked."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from wallet.models import MEAL_TYPES, CalendarDay, ChildAllergy, Menu, MenuDish
from wallet.parents.children import Child, SchoolRef


@dataclass(frozen=True)
class Dish:
    position: int
    name_kk: str
    name_ru: str
    name_en: str
    grams: int
    kcal: int
    allergens: tuple[str, ...]


def dish(position: int, name_kk: str, name_ru: str, name_en: str, grams: int, kcal: int, allergens: str) -> Dish:
    """A dish from a row of menu_dishes (allergens stored comma-separated)."""
    return Dish(position, name_kk, name_ru, name_en, grams, kcal, tuple(a for a in allergens.split(",") if a))


@dataclass(frozen=True)
class DayMenu:
    day: dt.date
    school: SchoolRef | None
    day_kind: str | None
    menus: dict[str, list[Dish]]
    child_allergens: tuple[str, ...]


_menus, _dishes = Menu.__table__, MenuDish.__table__
_MENUS = (
    select(_menus.c.school_id, _menus.c.day, _menus.c.meal_type, _dishes.c.position, _dishes.c.name_kk,
           _dishes.c.name_ru, _dishes.c.name_en, _dishes.c.grams, _dishes.c.kcal, _dishes.c.allergens)
    .select_from(_menus.join(_dishes, _dishes.c.menu_id == _menus.c.id))
    .where(_menus.c.school_id.in_(bindparam("schools", expanding=True)),
           _menus.c.day.in_(bindparam("days", expanding=True)),
           _menus.c.meal_type.in_(bindparam("meal_types", expanding=True)))
    .order_by(_menus.c.school_id, _menus.c.day, _menus.c.meal_type, _dishes.c.position)
)


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
            out.setdefault(key, []).append(dish(position, kk, ru, en, grams, kcal, allergens))
    return out


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
