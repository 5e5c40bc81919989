"""Endpoints for staff who check the programme: auditors (their region), operators (everything), school
administrators (their school) and suppliers (their own contracts). Roles and scope come from the
identity provider's token (api.auth.idp.authenticate_staff)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify

from api import session_scope
from api.auth.idp import authenticate_staff
from api.i18n import language
from api.schemas.common import query
from api.schemas.parents import FeedbackQuery, dish_name
from wallet.models import FEEDBACK_TAGS
from wallet.parents import cursors
from wallet.parents.children import DEFAULT_ZONE
from wallet.parents.feedback import GroupTally, Tally, feedback_summary
from wallet.parents.history import check_range
from wallet.principals import STAFF_ROLES

blueprint = Blueprint("auditors", __name__, url_prefix="/api/v1/auditor")


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {"feedbackCount": tally.count, "averageRating": tally.average,
            "ratingCounts": {str(k): v for k, v in tally.ratings.items()},
            "tagCounts": {tag: tally.tags[tag] for tag in FEEDBACK_TAGS}}


def _group_json(group: GroupTally, lang: str) -> dict[str, Any]:
    school = group.school
    return {
        "school": {"bin": school.bin, "name": school.name_kk if lang == "kk" else school.name_ru},
        "supplier": {"bin": group.supplier.bin, "name": group.supplier.name} if group.supplier else None,
        **_tally_json(group.tally),
        "dishes": [{"name": dish_name(d, lang), **_tally_json(d.tally)} for d in group.dishes],
    }


@blueprint.get("/feedback")
def feedback() -> Response:
    """Parents' feedback (the latest version of each) per school x supplier and per dish, over serving days."""
    principal = authenticate_staff(*STAFF_ROLES)
    args = query(FeedbackQuery())
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo(DEFAULT_ZONE)).date()
    day_to: dt.date = args.get("day_to") or today
    day_from: dt.date = args.get("day_from") or day_to - dt.timedelta(days=29)
    check_range(day_from, day_to)
    binding = f"{principal.role}|{args.get('school')}|{day_from}|{day_to}"
    after = None
    if "cursor" in args:
        values = cursors.decode("feedback", binding, args["cursor"])
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
            raise cursors.invalid()
        after = values[0]
    groups, last = feedback_summary(session_scope.session(), principal, school_bin=args.get("school"),
                                    day_from=day_from, day_to=day_to, after_school_id=after, limit=args["limit"])
    lang = language()
    return jsonify(**{"from": day_from.isoformat(), "to": day_to.isoformat()},
                   groups=[_group_json(g, lang) for g in groups],
                   nextCursor=cursors.encode("feedback", binding, [last]) if last is not None else None)
