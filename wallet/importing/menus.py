"""`menus`: one row per dish, keyed by school BIN + date + meal type + position. The menu of a school, day
and meal type is created when first seen; its dishes are matched by position. Allergens are stored as a
sorted, comma-separated list of codes (see MenuDish)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wallet.importing.base import (
    Counts,
    Kind,
    bulk_insert,
    bulk_insert_returning,
    bulk_update,
    find_duplicates,
    ids_by_bin,
    rows_in,
    unknown_schools,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import Cells, parse_codes
from wallet.messages import T_
from wallet.models import ALLERGENS, MEAL_TYPES, Menu, MenuDish, School

DISH_FIELDS = ("name_kk", "name_ru", "name_en", "grams", "kcal", "allergens")


@dataclass(frozen=True)
class DishRecord:
    line: int
    school_bin: str
    day: dt.date
    meal_type: str
    position: int
    name_kk: str
    name_ru: str
    name_en: str
    grams: int
    kcal: int
    allergens: str  # sorted, comma-joined codes

    def dish_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in DISH_FIELDS)


@dataclass
class MenuPlan:
    records: list[DishRecord]
    school_ids: dict[str, int]
    menus: dict[tuple[int, dt.date, str], int] = field(default_factory=dict)  # -> menu id
    dishes: dict[tuple[int, int], tuple[Any, ...]] = field(default_factory=dict)  # (menu, position) -> (id, ...)


class Menus(Kind[DishRecord, MenuPlan]):
    name = "menus"
    required = (
        "school_bin",
        "date",
        "meal_type",
        "position",
        "name_kk",
        "name_ru",
        "name_en",
        "grams",
        "kcal",
    )
    optional = ("allergens",)

    def parse(self, line: int, cells: Cells) -> DishRecord | None:
        values = (
            cells.bin("school_bin"),
            cells.date("date"),
            cells.choice("meal_type", MEAL_TYPES),
            cells.integer("position", 1),
            cells.text("name_kk", 200),
            cells.text("name_ru", 200),
            cells.text("name_en", 200),
            cells.integer("grams", 1),
            cells.integer("kcal", 0),
        )
        allergens = cells.optional("allergens", lambda v: parse_codes(v, ALLERGENS)) or []
        return None if cells.errors else DishRecord(line, *values, ",".join(allergens))  # type: ignore[arg-type]

    def check(self, session: Session, records: list[DishRecord], errors: list[RowError]) -> MenuPlan:
        errors += find_duplicates(
            records,
            lambda r: (r.school_bin, r.day, r.meal_type, r.position),
            lambda r: r.line,
            "position",
            T_("this school, date, meal type and position"),
        )
        plan = MenuPlan(records, ids_by_bin(session, School, (r.school_bin for r in records)))
        errors += unknown_schools(records, plan.school_ids)
        if records:
            first, last = min(r.day for r in records), max(r.day for r in records)
            for id_, school_id, day, meal_type in rows_in(
                session,
                (Menu.id, Menu.school_id, Menu.day, Menu.meal_type),
                Menu.school_id,
                plan.school_ids.values(),
                Menu.day.between(first, last),
            ):
                plan.menus[(school_id, day, meal_type)] = id_
            for id_, menu_id, position, *values in rows_in(
                session,
                (
                    MenuDish.id,
                    MenuDish.menu_id,
                    MenuDish.position,
                    *(getattr(MenuDish, name) for name in DISH_FIELDS),
                ),
                MenuDish.menu_id,
                plan.menus.values(),
            ):
                plan.dishes[(menu_id, position)] = (id_, *values)
        return plan

    def write(self, session: Session, plan: MenuPlan) -> Counts:
        menu_ids = dict(plan.menus)
        new_menus: dict[tuple[int, dt.date, str], dict[str, Any]] = {}
        for r in plan.records:
            key = (plan.school_ids[r.school_bin], r.day, r.meal_type)
            if key not in menu_ids:
                new_menus.setdefault(key, {"school_id": key[0], "day": key[1], "meal_type": key[2]})
        for id_, school_id, day, meal_type in bulk_insert_returning(
            session,
            Menu,
            list(new_menus.values()),
            Menu.id,
            Menu.school_id,
            Menu.day,
            Menu.meal_type,
        ):
            menu_ids[(school_id, day, meal_type)] = id_

        counts = Counts()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            menu_id = menu_ids[(plan.school_ids[r.school_bin], r.day, r.meal_type)]
            values = dict(zip(DISH_FIELDS, r.dish_values(), strict=True))
            stored = plan.dishes.get((menu_id, r.position))
            changed = stored is not None and stored[1:] != r.dish_values()
            if stored is None:
                inserts.append({"menu_id": menu_id, "position": r.position, **values})
            elif changed:
                updates.append({"id": stored[0], **values})
            counts.count(new=stored is None, changed=changed)
        bulk_insert(session, MenuDish, inserts)
        bulk_update(session, MenuDish, updates)
        return counts
