"""What parents send (queries and bodies) and how their answers are written (camelCase, the reader's language).

No child's IIN is ever written; parents' IINs appear only masked (the access log).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from api.schemas.common import Bin, Day, StrictInteger, Text
from wallet.messages import T_
from wallet.models import ALLERGENS, FEEDBACK_TAGS
from wallet.parents.access_log import AccessRecord
from wallet.parents.children import Child, SchoolRef
from wallet.parents.feedback import MAX_COMMENT, FeedbackView
from wallet.parents.history import HistoryItem
from wallet.parents.menus import DayMenu, Dish, allergen_warnings
from wallet.parents.today import TodayStatus

MAX_LIMIT = 200
MAX_CURSOR = 200


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE  # cache-busting and tracking parameters are ignored, not refused


class CursorQuery(_Query):
    cursor = Text(max_length=MAX_CURSOR)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))


class HistoryQuery(CursorQuery):
    day_from = Day(data_key="from")
    day_to = Day(data_key="to")


class MenuQuery(_Query):
    day = Day(data_key="date")


class NotificationsQuery(_Query):
    since = Text(max_length=MAX_CURSOR)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


class FeedbackQuery(CursorQuery):
    school = Bin()
    day_from = Day(data_key="from")
    day_to = Day(data_key="to")


class FeedbackBody(Schema):
    rating = StrictInteger(required=True, strict=True, validate=validate.Range(min=1, max=5))
    tags = fields.List(fields.String(validate=validate.OneOf(FEEDBACK_TAGS)), load_default=list,
                       validate=validate.Length(max=len(FEEDBACK_TAGS)))
    comment = Text(allow_none=True, load_default=None, min_length=0, max_length=MAX_COMMENT, prose=True)

    @validates("tags")
    def _unique(self, value: list[str], **_kwargs: object) -> None:
        if len(set(value)) != len(value):
            raise ValidationError(T_("each tag at most once"))


class AllergiesBody(Schema):
    allergens = fields.List(fields.String(validate=validate.OneOf(ALLERGENS)), required=True,
                            validate=validate.Length(max=len(ALLERGENS)))


# --- answers --------------------------------------------------------------------------------------------------


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def school_name(school: SchoolRef, lang: str) -> str:
    return school.name_kk if lang == "kk" else school.name_ru  # schools have kk and ru names only


def dish_name(dish: Any, lang: str) -> str:
    return {"kk": dish.name_kk, "en": dish.name_en}.get(lang, dish.name_ru)


def dish_json(dish: Dish, lang: str, allergies: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": dish_name(dish, lang), "grams": dish.grams, "kcal": dish.kcal,
            "allergens": list(dish.allergens), "allergenWarnings": allergen_warnings(dish, allergies)}


def today_json(today: TodayStatus) -> dict[str, Any]:
    return {
        "date": today.day.isoformat(),
        "isServingDay": today.is_serving_day,
        "enrolled": today.enrolled,
        "meals": [{"mealType": m.meal_type, "status": m.status, "entryId": m.entry_id, "servedAt": iso(m.served_at)}
                  for m in today.meals],
    }


def child_json(child: Child, today: TodayStatus | None, lang: str, voucher_status: str | None = None) -> dict[str, Any]:
    """`today` None: the child's vouchers hold no accepted consent, so only the school is shown."""
    placement = child.current
    shown = placement if today is not None else None
    return {
        "childId": str(child.id),
        "firstName": child.first_name,
        "lastName": child.last_name,
        "relation": child.relation,
        "school": {"bin": placement.school.bin, "name": school_name(placement.school, lang)} if placement else None,
        "grade": shown.grade if shown else None,
        "className": shown.class_name if shown else None,
        "enrolledToday": child.enrolled_today,
        "today": today_json(today) if today is not None else None,
        # Unknown (null) when consent is withheld, like `today`: false would tell the parent "not served".
        "servedToday": None if today is None else any(m.status == "served" for m in today.meals),
        "voucherStatus": voucher_status,
    }


def history_item_json(item: HistoryItem, lang: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entryId": item.entry_id,
        "kind": item.kind,
        "date": item.serving_day.isoformat(),
        "mealType": item.meal_type,
        "servedAt": iso(item.served_at),
        "billable": item.billable,
        "reasons": item.reasons,
        "voided": item.voided_by is not None,
    }
    if item.kind == "void":
        body["voidOf"] = item.refers_to
    else:
        body["voidedBy"] = item.voided_by
        body["voidedAt"] = iso(item.voided_at)
        body["menu"] = [dish_json(d, lang) for d in item.menu]
        body["feedback"] = ({"rating": item.feedback_rating, "version": item.feedback_version}
                            if item.feedback_rating is not None else None)
        body["canGiveFeedback"] = item.billable and item.voided_by is None
        body["allergenWarningConfirmed"] = item.allergen_warning_confirmed
    return body


def menu_json(menu: DayMenu, lang: str) -> dict[str, Any]:
    meals = []
    for meal_type, dishes in menu.menus.items():
        rendered = [dish_json(d, lang, menu.child_allergens) for d in dishes]
        meals.append({"mealType": meal_type, "dishes": rendered,
                      "kcal": sum(d.kcal for d in dishes),
                      "hasAllergenWarnings": any(d["allergenWarnings"] for d in rendered)})
    return {
        "date": menu.day.isoformat(),
        "school": {"bin": menu.school.bin, "name": school_name(menu.school, lang)} if menu.school else None,
        "isServingDay": menu.day_kind == "serving",
        "childAllergens": list(menu.child_allergens),
        "meals": meals,
    }


def feedback_json(view: FeedbackView) -> dict[str, Any]:
    return {"entryId": view.entry_id, "version": view.version, "rating": view.rating, "tags": view.tags,
            "comment": view.comment, "createdAt": iso(view.created_at), "editableUntil": iso(view.editable_until)}


def access_json(record: AccessRecord) -> dict[str, Any]:
    return {"at": iso(record.at), "action": record.action, "detail": record.detail,
            "actor": {"role": record.actor_role, "id": record.actor_label, "isYou": record.by_reader}}
