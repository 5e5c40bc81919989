"""What a canteen terminal needs to work offline for a day: pupils, who may eat free today, the menu.

Names are shown to canteen staff to confirm who stands in front of them; IINs and eligibility categories
are never sent (the terminal shows "free meal: yes/no", never why).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from wallet.categories import CATEGORY_PRIORITY
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    Menu,
    School,
    Student,
    StudentEligibility,
)
from wallet.vouchers.programme import meal_covered, school_voucher_states

SERVING_HOURS = {"from": "08:00", "to": "16:00"}


def local_today(school: School, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(school.timezone)).date()


def build_roster(session: Session, school: School, now: dt.datetime) -> dict[str, Any]:
    day = local_today(school, now)
    kind = session.scalar(select(CalendarDay.kind).where(CalendarDay.school_id == school.id, CalendarDay.day == day))
    priced = _priced_meal_types(session, school.id, day)
    eligible = _eligible_categories(session, school.id, day)
    vouchers = school_voucher_states(session, school.id, day)
    pupils = []
    for student, enrollment in _enrolled(session, school.id, day):
        categories = eligible.get(student.id, set())
        category = min(categories, key=_rank) if categories else None
        # The programme's voucher rule, the one the ingest applies to every method (wallet.vouchers.programme).
        covered = category is not None and meal_covered(vouchers.get(student.id), category, day)
        meal_types = sorted(priced.get(category, set())) if category and covered else []
        pupils.append({
            "studentId": str(student.id),
            "displayName": f"{student.first_name} {student.last_name[:1]}.",
            "className": enrollment.class_name,
            "grade": enrollment.grade,
            "freeMealToday": bool(meal_types) and kind == "serving",
            "mealTypes": meal_types if kind == "serving" else [],
        })
    return {
        "school": {"bin": school.bin, "nameKk": school.name_kk, "nameRu": school.name_ru,
                   "timezone": school.timezone},
        "servingDay": day.isoformat(),
        "isServingDay": kind == "serving",
        "servingHours": SERVING_HOURS,
        "students": pupils,
        "menu": _menu(session, school.id, day),
    }


def _rank(category: str) -> tuple[int, str]:
    return (CATEGORY_PRIORITY.index(category) if category in CATEGORY_PRIORITY else 99, category)


def _enrolled(session: Session, school_id: int, day: dt.date) -> list[tuple[Student, Enrollment]]:
    query = (
        select(Student, Enrollment)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.school_id == school_id, Enrollment.valid_from <= day,
               or_(Enrollment.valid_to.is_(None), Enrollment.valid_to >= day))
        .order_by(Enrollment.class_name, Student.last_name, Student.first_name, Student.id)
    )
    return [(s, e) for s, e in session.execute(query)]


def _eligible_categories(session: Session, school_id: int, day: dt.date) -> dict[Any, set[str]]:
    query = (
        select(StudentEligibility.student_id, StudentEligibility.category_code)
        .join(Enrollment, Enrollment.student_id == StudentEligibility.student_id)
        .where(Enrollment.school_id == school_id, StudentEligibility.valid_from <= day,
               StudentEligibility.valid_to >= day)
    )
    out: dict[Any, set[str]] = {}
    for student_id, code in session.execute(query):
        out.setdefault(student_id, set()).add(code)
    return out


def _priced_meal_types(session: Session, school_id: int, day: dt.date) -> dict[str, set[str]]:
    query = (
        select(ContractPrice.category_code, ContractPrice.meal_type)
        .join(Contract, Contract.id == ContractPrice.contract_id)
        .where(Contract.school_id == school_id, Contract.valid_from <= day, Contract.valid_to >= day)
    )
    out: dict[str, set[str]] = {}
    for code, meal_type in session.execute(query):
        out.setdefault(code, set()).add(meal_type)
    return out


def _menu(session: Session, school_id: int, day: dt.date) -> list[dict[str, Any]]:
    menus = session.scalars(
        select(Menu).where(Menu.school_id == school_id, Menu.day == day)
        .options(selectinload(Menu.dishes)).order_by(Menu.meal_type)
    )
    return [
        {"mealType": menu.meal_type, "dishes": [
            {"nameKk": d.name_kk, "nameRu": d.name_ru, "nameEn": d.name_en, "grams": d.grams, "kcal": d.kcal,
             "allergens": d.allergen_list} for d in menu.dishes]}
        for menu in menus
    ]
