"""Property: in a terminal batch that mixes good meal events with bad ones of every class, each good event is
recorded with the verdict it would have had on its own, each bad one is `invalid` with nothing stored, and
the answer is a 200 with one result per event, in order. Hypothesis draws the batches (mixes, orders,
lengths); the events are made afresh on every run (new eventIds, deviceSeqs counting up), so a replayed or
shrunk example never collides with an earlier one.

The verdict of a good event comes from a model of the world: an eligible pupil's first meal of a type today
is billable and any later one `duplicate_meal`; a pupil without eligibility is `not_eligible`; an id the
roster does not know is `unknown_student`. The model starts from the meal slots already taken.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.factories import meal_event, uuid7
from tests.security.test_every_field import probe  # noqa: F401 (one app and database per backend)
from wallet.models import LedgerEntry, MealSlot

EVENTS = "/api/v1/terminal/events"
MEAL_TYPES = ("breakfast", "lunch", "snack")
_seq = itertools.count(1000)


def _now(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat()


def _good(kind: str, pupil: int, meal_type: str, world: Any) -> dict[str, Any]:
    student = {"eligible": lambda: world.eligible[pupil % len(world.eligible)],
               "not_eligible": lambda: world.not_eligible, "unknown": lambda: str(uuid.uuid4())}[kind]()
    return meal_event(student, next(_seq), meal_type=meal_type)


def _changed(**changes: Any):  # type: ignore[no-untyped-def]
    def make(world: Any) -> Any:
        event = meal_event(world.eligible[0], next(_seq))
        event.update(changes)
        return {k: v for k, v in event.items() if v is not ...}
    return make


# Every class of bad event: text that must not be stored, instants that overflow or lie out of bounds, wrong
# JSON types in each field, missing and unknown fields, ids of the wrong kind, and events that are no object.
BAD = {
    "NUL in studentId": _changed(studentId="abc\x00def"),
    "only a NUL": _changed(studentId="\x00"),
    "escape in studentId": _changed(studentId="\x1b[2J"),
    "C1 control in studentId": _changed(studentId="x\x85"),
    "line feed in studentId": _changed(studentId="x\n"),
    "10 kB studentId": _changed(studentId="x" * 10_000),
    "NUL in qrToken": _changed(qrToken="ab\x00cd", method="qr"),
    "servedAt 9999-12-31 -14:00": _changed(servedAt="9999-12-31T23:59:59-14:00"),
    "servedAt 0001-01-01 +14:00": _changed(servedAt="0001-01-01T00:00:00+14:00"),
    "servedAt 9999-12-31 UTC": _changed(servedAt="9999-12-31T23:59:59Z"),
    "servedAt 400 days ago": lambda w: _changed(servedAt=_now(days=-400))(w),
    "servedAt in 400 days": lambda w: _changed(servedAt=_now(days=400))(w),
    "servedAt without offset": _changed(servedAt="2026-01-01T12:00:00"),
    "servedAt a number": _changed(servedAt=1_700_000_000),
    "deviceSeq 2**64": _changed(deviceSeq=2**64),
    "deviceSeq negative": _changed(deviceSeq=-1),
    "deviceSeq a fraction": _changed(deviceSeq=1.5),
    "deviceSeq a boolean": _changed(deviceSeq=True),
    "deviceSeq a string": _changed(deviceSeq="7"),
    "eventId UUIDv4": _changed(eventId=str(uuid.uuid4())),
    "eventId a number": _changed(eventId=7),
    "eventId with a NUL": lambda w: _changed(eventId=str(uuid7()) + "\x00")(w),
    "mealType unknown": _changed(mealType="dinner"),
    "mealType null": _changed(mealType=None),
    "method a list": _changed(method=["roster"]),
    "studentId an object": _changed(studentId={"id": 1}),
    "studentId null": _changed(studentId=None),
    "missing servedAt": _changed(servedAt=...),
    "unknown field": _changed(priceTiyn=1),
    "not an object: null": lambda w: None,
    "not an object: number": lambda w: 17,
    "not an object: list": lambda w: [meal_event(w.eligible[0], next(_seq))],
    "not an object: string": lambda w: "lunch",
}

good_events = st.tuples(st.just("good"), st.sampled_from(["eligible", "eligible", "not_eligible", "unknown"]),
                        st.integers(min_value=0, max_value=20), st.sampled_from(MEAL_TYPES))
bad_events = st.tuples(st.just("bad"), st.sampled_from(sorted(BAD)))
batches = st.lists(st.one_of(good_events, bad_events), min_size=1, max_size=12)


def _served_today(probe: Any) -> set[tuple[str, str]]:  # noqa: F811
    with probe.engine.connect() as conn:
        day = probe.sec.world.today
        return {(str(s), m) for s, m in conn.execute(select(MealSlot.student_id, MealSlot.meal_type)
                                                   .where(MealSlot.serving_day == day))}


def _ledger_size(probe: Any) -> int:  # noqa: F811
    with probe.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()


def _expected(kind: str, student_id: str, meal_type: str, served: set[tuple[str, str]]) -> tuple[str, list[str]]:
    if kind == "unknown":
        return "not_billable", ["unknown_student"]
    if kind == "not_eligible":
        return "not_billable", ["not_eligible"]
    if (student_id, meal_type) in served:
        return "not_billable", ["duplicate_meal"]
    served.add((student_id, meal_type))
    return "billable", []


@settings(max_examples=25)
@given(plan=batches)
def test_good_events_are_recorded_beside_bad_ones(probe, plan):  # noqa: F811
    world, served = probe.sec.world, _served_today(probe)
    events = [_good(*item[1:], world) if item[0] == "good" else BAD[item[1]](world) for item in plan]
    before = _ledger_size(probe)
    response = probe.client.post(EVENTS, json={"sentAt": _now(), "events": events},
                                 headers=probe.sec.terminal.headers())
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    results = response.get_json()["results"]
    assert [r["index"] for r in results] == list(range(len(events)))
    for item, event, result in zip(plan, events, results, strict=True):
        if item[0] == "bad":
            assert result["status"] == "invalid", (item, result)
            assert result["errors"] and "entryId" not in result
            continue
        verdict, reasons = _expected(item[1], event["studentId"], event["mealType"], served)
        assert result["status"] == "recorded", (item, result)
        assert (result["verdict"], result["reasons"]) == (verdict, reasons), (item, result)
    good = sum(1 for item in plan if item[0] == "good")
    assert _ledger_size(probe) == before + good
