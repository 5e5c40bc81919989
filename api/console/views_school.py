"""The school view: today's service live (meals per meal type against the children entitled, refused
attempts, terminals), the month's calendar and the day's menu; a day's entries for the drill-down.

School administrators see their school; auditors, operators and suppliers the schools in their scope
(wallet.scope, the API's rule): any other school is the same 404 as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from api import session_scope
from api.console import params, texts
from api.console.blueprint import STAFF, blueprint, principal, requires
from wallet.console.entries import day_entries
from wallet.console.school_day import SchoolDay, month_calendar, school_day, school_menu
from wallet.models import School
from wallet.months import Month
from wallet.reconciliation.scope import IIN_READERS
from wallet.scope import school_in_scope, schools_in_scope


def _school(raw_bin: str) -> School:
    return school_in_scope(session_scope.session(), principal(), params.school_bin(raw_bin))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _backlog_alert() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config["WALLET_SETTINGS"].terminal_backlog_alert_s)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def live_json(today: SchoolDay) -> dict[str, Any]:
    return {
        "day": today.day.isoformat(), "served": today.served, "refusedAttempts": today.refused_attempts,
        "meals": [{"mealType": m.meal_type, "label": texts.t(m.meal_type), "served": m.served,
                   "entitled": m.entitled} for m in today.meals],
        "refused": [{"reason": code, "label": texts.t(code), "count": n} for code, n in today.refused.items()],
        "terminals": [{"id": x.id, "online": x.online, "status": x.status, "lastContactAt": _iso(x.last_contact_at),
                       "missing": x.missing, "highestSeq": x.highest_seq,
                       "backlogAgeS": x.backlog.age_s if x.backlog else None,
                       "backlogFlagged": bool(x.backlog and x.backlog.flagged)} for x in today.terminals],
        "allergenWarnings": today.allergen_warnings,
        "updatedAt": _iso(_now()),
    }


@blueprint.get("/schools", endpoint="schools")
@requires(*STAFF)
def schools() -> Any:
    who = principal()
    if who.role == "school_admin" and who.school_bin:
        return redirect(url_for("console.school_view", school_bin=who.school_bin), 303)
    rows = session_scope.session().scalars(
        select(School).where(School.id.in_(schools_in_scope(who))).order_by(School.bin).limit(500)).all()
    return render_template("console/schools.html", schools=rows)


@blueprint.get("/schools/<school_bin>", endpoint="school_view")
@requires(*STAFF)
def school_view(school_bin: str) -> str:
    school = _school(school_bin)
    session = session_scope.session()
    today = params.local_today(school.timezone)
    shown = params.day(request.args.get("day"), today)
    month = Month.of(shown)
    return render_template(
        "console/school.html", school=school, today=today, shown=shown, month=month,
        live=school_day(session, school, today, _now(), backlog_alert=_backlog_alert()),
        calendar=month_calendar(session, school.id, month.first_day, month.last_day),
        menu=school_menu(session, school.id, shown),
        previous_month=(month.first_day - dt.timedelta(days=1)).isoformat(),
        next_month=(month.last_day + dt.timedelta(days=1)).isoformat(),
    )


@blueprint.get("/schools/<school_bin>/live.json", endpoint="school_live")
@requires(*STAFF)
def school_live(school_bin: str) -> Response:
    """The numbers the school view's script polls (console-internal JSON, not part of the /api/v1 contract)."""
    school = _school(school_bin)
    today = params.local_today(school.timezone)
    return jsonify(live_json(school_day(session_scope.session(), school, today, _now(),
                                       backlog_alert=_backlog_alert())))


@blueprint.get("/schools/<school_bin>/days/<day>", endpoint="school_day_entries")
@requires(*STAFF)
def school_day_entries(school_bin: str, day: str) -> str:
    school = _school(school_bin)
    shown = params.day(day, params.local_today(school.timezone))
    entries = day_entries(session_scope.session(), school, shown, show_iin=False)
    return render_template("console/day.html", school=school, day=shown, entries=entries,
                           month=str(Month.of(shown)), iin_reader=principal().role in IIN_READERS)
