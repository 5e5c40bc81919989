"""The plain reading of a well-formed meal event (api.schemas.terminal_fast) against MealEventSchema: what it
accepts, the schema accepts with the same data; it may leave more to the schema, never less."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from api.schemas.terminal import MealEventSchema
from api.schemas.terminal_fast import well_formed_event

SCHEMA = MealEventSchema()
UUID7 = "01890a5d-ac96-774b-bcce-b302099a8057"


def _uuid7() -> str:
    raw = bytearray(uuid.uuid4().bytes)
    raw[6] = (raw[6] & 0x0F) | 0x70
    return str(uuid.UUID(bytes=bytes(raw)))


def _good(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"eventId": _uuid7(), "deviceSeq": 7, "studentId": str(uuid.uuid4()),
                             "mealType": "lunch", "servedAt": "2026-12-03T05:10:00.123456Z", "method": "card"}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def _schema(raw: Any) -> dict[str, Any] | None:
    try:
        return SCHEMA.load(raw)
    except ValidationError:
        return None


def _agree(raw: Any) -> None:
    fast = well_formed_event(raw)
    if fast is not None:
        assert fast == _schema(raw), raw


def test_a_plain_event_is_read_as_the_schema_reads_it() -> None:
    raw = _good()
    assert well_formed_event(raw) == SCHEMA.load(raw)


def test_the_optional_fields_are_read_as_the_schema_reads_them() -> None:
    for raw in (_good(method="manual", manualReason="card_forgotten"),
                _good(allergenWarning={"shown": True, "confirmed": True}),
                _good(allergenWarning={"shown": False, "confirmed": False}),
                _good(method="qr", qrToken="abc_DEF-123", studentId=...),
                _good(method="qr", qrToken="abc", studentId="s-1"),
                _good(servedAt="2026-12-03T10:10:00+05:00")):
        fast = well_formed_event(raw)
        assert fast is not None and fast == SCHEMA.load(raw), raw


def test_what_the_schema_refuses_is_left_to_the_schema() -> None:
    for raw in (_good(eventId=UUID7.upper().replace("7", "4", 1)), _good(eventId=str(uuid.uuid4())),
                _good(eventId="{" + UUID7 + "}"), _good(deviceSeq=0), _good(deviceSeq=True), _good(deviceSeq=2**53),
                _good(deviceSeq="7"), _good(deviceSeq=7.0), _good(studentId=""), _good(studentId="a\x00b"),
                _good(studentId="x" * 65), _good(studentId="\ud800"), _good(studentId=...), _good(mealType="dinner"),
                _good(method="face"), _good(servedAt="2026-12-03T05:10:00"), _good(servedAt="yesterday"),
                _good(servedAt="0001-01-01T00:00:00+14:00"), _good(servedAt=1733200000),
                _good(method="manual"), _good(manualReason="other"), _good(method="manual", manualReason="bored"),
                _good(qrToken="abc"), _good(method="qr", qrToken="a b"), _good(method="qr", qrToken=""),
                _good(allergenWarning={"shown": True, "confirmed": False}),
                _good(allergenWarning={"shown": True}),
                _good(extra=1), None, [], "event", 7):
        assert well_formed_event(raw) is None, raw
        assert _schema(raw if isinstance(raw, dict) else {"_": raw}) is None, raw


_values = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2, max_value=2**54), st.text(max_size=70),
                    st.floats(allow_nan=False), st.just(UUID7), st.sampled_from(["lunch", "qr", "manual", "card",
                    "other", "2026-12-03T05:10:00Z", "2026-12-03T05:10:00", "9999-12-31T23:59:59-14:00"]),
                    st.fixed_dictionaries({"shown": st.booleans(), "confirmed": st.booleans()}))
_keys = st.sampled_from(["eventId", "deviceSeq", "studentId", "qrToken", "mealType", "servedAt", "method",
                         "allergenWarning", "manualReason"])


@settings(max_examples=400, deadline=None)
@given(base=st.sampled_from([_good(), _good(method="manual", manualReason="other"),
                             _good(method="qr", qrToken="tok", studentId=...)]),
       changes=st.dictionaries(_keys, _values, max_size=3), drop=st.lists(_keys, max_size=2))
def test_the_plain_reading_never_accepts_more_than_the_schema(base: dict[str, Any], changes: dict[str, Any],
                                                               drop: list[str]) -> None:
    raw = {**base, **changes}
    for key in drop:
        raw.pop(key, None)
    _agree(raw)


def test_what_only_the_schema_accepts_is_left_to_it() -> None:
    raw = _good(allergenWarning={"shown": 1, "confirmed": 1})  # marshmallow's truthy set holds 1 == True
    assert well_formed_event(raw) is None and _schema(raw) is not None


def test_served_at_keeps_its_offset() -> None:
    raw = _good(servedAt="2026-12-03T10:10:00+05:00")
    fast = well_formed_event(raw)
    assert fast is not None and fast["served_at"].utcoffset() == dt.timedelta(hours=5)
