"""The meal event of a well-formed batch, read without marshmallow: the ingest's hot path.

`MealEventSchema.load` costs about as much CPU per event as judging and appending it. Nearly every event a
terminal sends is well formed, so `well_formed_event` reads such an event with plain checks and returns
exactly what the schema would; for anything it cannot vouch for (a missing or extra field, a wrong type, a
value out of range or any doubt) it returns None and the caller runs the schema, which then names what is
wrong with the same messages as before. A test holds the two to the same answers
(tests/unit/test_terminal_fast_schema.py): this module may refuse more than the schema, never accept more.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from api.schemas.terminal import MAX_DEVICE_SEQ, MAX_STUDENT_REF, QR_TOKEN_PATTERN
from wallet.evidence.codes import MANUAL_REASONS
from wallet.models import IDENTIFICATION_METHODS, MEAL_TYPES
from wallet.qr.token import MAX_TOKEN_CHARS
from wallet.text import is_clean

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TOKEN = re.compile(QR_TOKEN_PATTERN)
_KEYS = frozenset(("eventId", "deviceSeq", "studentId", "qrToken", "mealType", "servedAt", "method",
                   "allergenWarning", "manualReason"))
_REQUIRED = ("eventId", "deviceSeq", "mealType", "servedAt", "method")
_TWO_DAYS, _FOUR_DAYS = dt.timedelta(days=2), dt.timedelta(days=4)


def well_formed_event(raw: Any) -> dict[str, Any] | None:
    """The schema's data for `raw` when it is plainly valid, else None (then ask the schema)."""
    if type(raw) is not dict or not _KEYS.issuperset(raw) or any(key not in raw for key in _REQUIRED):
        return None
    event_id, seq, meal_type, method = raw["eventId"], raw["deviceSeq"], raw["mealType"], raw["method"]
    if type(event_id) is not str or _UUID.fullmatch(event_id) is None:
        return None
    parsed_id = uuid.UUID(event_id)
    if parsed_id.version != 7:
        return None
    if type(seq) is not int or not 1 <= seq <= MAX_DEVICE_SEQ:
        return None
    if type(meal_type) is not str or meal_type not in MEAL_TYPES:
        return None
    if type(method) is not str or method not in IDENTIFICATION_METHODS:
        return None
    served_at = _instant(raw["servedAt"])
    if served_at is None:
        return None
    data: dict[str, Any] = {"event_id": parsed_id, "device_seq": seq, "meal_type": meal_type,
                            "served_at": served_at, "method": method, "student_id": ""}
    if "studentId" in raw:
        student = raw["studentId"]
        if type(student) is not str or not 1 <= len(student) <= MAX_STUDENT_REF or not is_clean(student):
            return None
        data["student_id"] = student
    if "qrToken" in raw:
        token = raw["qrToken"]
        if (type(token) is not str or not 1 <= len(token) <= MAX_TOKEN_CHARS or _TOKEN.fullmatch(token) is None
                or method != "qr"):
            return None
        data["qr_token"] = token
    elif not data["student_id"]:
        return None
    if "allergenWarning" in raw:
        warning = raw["allergenWarning"]
        if type(warning) is not dict or set(warning) != {"shown", "confirmed"}:
            return None
        shown, confirmed = warning["shown"], warning["confirmed"]
        if type(shown) is not bool or shown is not confirmed:  # shown and confirmed, or neither
            return None
        data["allergen_warning"] = {"shown": shown, "confirmed": confirmed}
    if "manualReason" in raw:
        reason = raw["manualReason"]
        if type(reason) is not str or reason not in MANUAL_REASONS or method != "manual":
            return None
        data["manual_reason"] = reason
    elif method == "manual":
        return None
    return data


def _instant(value: Any) -> dt.datetime | None:
    """What `Instant` reads (datetime.fromisoformat, an offset, a real instant in UTC), else None."""
    if type(value) is not str:
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
        if instant.utcoffset() is None:
            return None
        utc = instant.astimezone(dt.UTC)
        (utc - _TWO_DAYS) + _FOUR_DAYS
    except (ValueError, OverflowError):
        return None
    return instant
