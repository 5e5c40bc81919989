"""Bad batches: a clear problem response, or a per-event error inside the batch; nothing stored; never a 500."""

import datetime as dt
import json
import uuid

from sqlalchemy import func, select

from tests.factories import batch, meal_event, uuid7
from wallet.models import LedgerEntry

EVENTS = "/api/v1/terminal/events"


def count(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry))


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body


def stored(session_factory) -> str | None:
    return f"{count(session_factory)} entries stored" if count(session_factory) else None


def problem_mismatch(response, status: int, code: str) -> str | None:
    body = response.get_json(silent=True) or {}
    got = (response.status_code, response.mimetype, body.get("code"))
    return None if got == (status, "application/problem+json", code) else f"expected {status} {code}, got {got}"


def each_case(cases, check) -> None:
    """Run `check(name, case)` for every case on one database; report every failing case, not only the first."""
    failures = []
    for name, case in cases.items():
        try:
            if (failure := check(name, case)) is not None:
                failures.append(f"{name}: {failure}")
        except Exception as exc:  # includes a response outside the contract, e.g. a 500
            failures.append(f"{name}: {exc!r}")
    assert not failures, "\n".join(failures)


def post_raw(checked, terminal_key, data, content_type="application/json"):
    return checked.post(EVENTS, data=data, content_type=content_type, headers=terminal_key.headers())


# -- the request as a whole is refused ------------------------------------------------------------------------

NOT_JSON = {
    "malformed": b'{"sentAt": "2025-01-01T10:00:00Z", "events": [',
    "empty body": b"",
    "trailing garbage": b'{"sentAt": "2025-01-01T10:00:00Z", "events": []} x',
    "not utf-8": b'{"sentAt": "\xff\xfe"}',
    "single quotes": b"{'sentAt': 'x'}",
    "deeply nested lists": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deeply nested events": b'{"sentAt": "2025-01-01T10:00:00Z", "events": ' + b"[" * 100_000 + b"]" * 100_000
                            + b"}",
}


def test_a_body_that_is_not_json_is_a_400(checked, session_factory, world, terminal_key):
    def check(name, data):
        response = post_raw(checked, terminal_key, data)
        return problem_mismatch(response, 400, "malformed_json") or stored(session_factory)

    each_case(NOT_JSON, check)


CONTENT_TYPES = {name: name for name in ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          "text/json", "multipart/form-data; boundary=x"]} | {"none": None}


def test_another_content_type_is_a_415(checked, session_factory, world, terminal_key):
    body = json.dumps(batch(meal_event(world.eligible[0], 1))).encode()

    def check(name, content_type):
        if content_type is None:
            response = checked.post(EVENTS, data=body, headers=terminal_key.headers())
        else:
            response = post_raw(checked, terminal_key, body, content_type)
        return problem_mismatch(response, 415, "unsupported_media_type") or stored(session_factory)

    each_case(CONTENT_TYPES, check)
    # application/json with a charset, or a +json type, is JSON all the same.
    for content_type in ["application/json; charset=utf-8", "application/vnd.wallet+json"]:
        response = post_raw(checked, terminal_key, json.dumps(batch(meal_event(world.eligible[0], 1))),
                            content_type)
        assert response.status_code == 200, content_type


def _envelope(**changes):
    body = {"sentAt": dt.datetime.now(dt.UTC).isoformat(), "events": []}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def _event(world):
    return meal_event(world.eligible[0], 1)


BAD_ENVELOPES = {
    # name: (body from world, field expected among the errors or None)
    "a json array": (lambda w: [_event(w)], "body"),
    "a json string": (lambda w: "events", "body"),
    "a json number": (lambda w: 42, "body"),
    "json null": (lambda w: None, "body"),
    "empty events": (lambda w: _envelope(events=[]), None),
    "missing events": (lambda w: _envelope(events=...), "events"),
    "events not a list": (lambda w: _envelope(events=_event(w)), "events"),
    "events a string": (lambda w: _envelope(events="lots"), "events"),
    "events null": (lambda w: _envelope(events=None), "events"),
    "missing sentAt": (lambda w: _envelope(sentAt=..., events=[_event(w)]), "sentAt"),
    "sentAt null": (lambda w: _envelope(sentAt=None, events=[_event(w)]), "sentAt"),
    "sentAt not a date": (lambda w: _envelope(sentAt="yesterday", events=[_event(w)]), "sentAt"),
    "sentAt a number": (lambda w: _envelope(sentAt=1735725600, events=[_event(w)]), "sentAt"),
    "sentAt without offset": (lambda w: _envelope(sentAt="2025-01-01T10:00:00", events=[_event(w)]), "sentAt"),
    "sentAt impossible date": (lambda w: _envelope(sentAt="2025-02-30T10:00:00Z", events=[_event(w)]), "sentAt"),
    "sentAt 9999-12-31 at -14:00": (lambda w: _envelope(sentAt="9999-12-31T23:59:59-14:00", events=[_event(w)]),
                                    "sentAt"),
    "sentAt 0001-01-01 at +14:00": (lambda w: _envelope(sentAt="0001-01-01T00:00:00+14:00", events=[_event(w)]),
                                    "sentAt"),
    "unknown envelope field": (lambda w: {**_envelope(events=[_event(w)]), "terminalId": "T-other"}, "terminalId"),
}


def test_a_bad_envelope_is_a_422_and_nothing_is_stored(checked, session_factory, world, terminal_key):
    def check(name, case):
        make_body, field = case
        response = post_raw(checked, terminal_key, json.dumps(make_body(world)))
        if mismatch := problem_mismatch(response, 422, "validation_failed"):
            return mismatch
        if field is not None and field not in {e["field"] for e in response.get_json()["errors"]}:
            return f"no error for {field}: {response.get_json()['errors']}"
        return stored(session_factory)

    each_case(BAD_ENVELOPES, check)


def test_more_than_500_events_is_a_413(checked, session_factory, world, terminal_key):
    events = [meal_event(world.eligible[n % 5], n + 1) for n in range(501)]
    response = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers())
    body = assert_problem(response, 413, "batch_too_large")
    assert "500" in body["detail"]
    assert count(session_factory) == 0


def test_exactly_500_events_is_not_too_many(checked, session_factory, world, terminal_key):
    # 499 of them invalid (and so not stored): the limit is checked without appending 500 entries.
    events = [meal_event(world.eligible[0], 1), *(_with(world, mealType="dinner") for _ in range(499))]
    response = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers())
    assert response.status_code == 200
    assert response.get_json()["summary"] == {"recorded": 1, "replayed": 0, "conflict": 0, "invalid": 499}
    assert count(session_factory) == 1


def test_a_body_over_the_size_limit_is_a_413(checked, session_factory, world, terminal_key):
    body = json.dumps({**batch(_event(world)), "padding": "x" * (5 * 1024 * 1024)})
    response = post_raw(checked, terminal_key, body)
    assert_problem(response, 413, "payload_too_large")
    assert count(session_factory) == 0


# -- one event is refused, the others are recorded ----------------------------------------------------------

def _with(world, **changes):
    event = meal_event(world.eligible[1], 2)
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


BAD_EVENTS = {
    # name: (event from world, the field its error names)
    "unknown meal type": (lambda w: _with(w, mealType="dinner"), "mealType"),
    "meal type null": (lambda w: _with(w, mealType=None), "mealType"),
    "meal type in capitals": (lambda w: _with(w, mealType="LUNCH"), "mealType"),
    "eventId UUIDv4": (lambda w: _with(w, eventId=str(uuid.uuid4())), "eventId"),
    "eventId UUIDv1": (lambda w: _with(w, eventId=str(uuid.uuid1())), "eventId"),
    "eventId not a uuid": (lambda w: _with(w, eventId="event-1"), "eventId"),
    "eventId a number": (lambda w: _with(w, eventId=7), "eventId"),
    "eventId missing": (lambda w: _with(w, eventId=...), "eventId"),
    "deviceSeq zero": (lambda w: _with(w, deviceSeq=0), "deviceSeq"),
    "deviceSeq negative": (lambda w: _with(w, deviceSeq=-5), "deviceSeq"),
    "deviceSeq a string": (lambda w: _with(w, deviceSeq="2"), "deviceSeq"),
    "deviceSeq a fraction": (lambda w: _with(w, deviceSeq=2.5), "deviceSeq"),
    "deviceSeq a float": (lambda w: _with(w, deviceSeq=2.0), "deviceSeq"),
    "deviceSeq a boolean": (lambda w: _with(w, deviceSeq=True), "deviceSeq"),
    "deviceSeq too large": (lambda w: _with(w, deviceSeq=2**63), "deviceSeq"),
    "deviceSeq missing": (lambda w: _with(w, deviceSeq=...), "deviceSeq"),
    "servedAt not a date": (lambda w: _with(w, servedAt="at lunch"), "servedAt"),
    "servedAt impossible date": (lambda w: _with(w, servedAt="2025-13-45T12:00:00Z"), "servedAt"),
    "servedAt without offset": (lambda w: _with(w, servedAt="2025-01-01T12:00:00"), "servedAt"),
    "servedAt a date only": (lambda w: _with(w, servedAt="2025-01-01"), "servedAt"),
    "servedAt a number": (lambda w: _with(w, servedAt=1735725600), "servedAt"),
    "studentId empty": (lambda w: _with(w, studentId=""), "studentId"),
    "studentId too long": (lambda w: _with(w, studentId="x" * 65), "studentId"),
    "studentId an object": (lambda w: _with(w, studentId={"id": 1}), "studentId"),
    "unknown method": (lambda w: _with(w, method="telepathy"), "method"),
    "extra field verdict": (lambda w: _with(w, verdict="billable"), "verdict"),
    "extra field priceTiyn": (lambda w: _with(w, priceTiyn=1_000_000), "priceTiyn"),
    "extra field position": (lambda w: _with(w, position=1), "position"),
    "extra field schoolId": (lambda w: _with(w, schoolId=2), "schoolId"),
    "snake_case keys": (lambda w: {**_with(w, eventId=...), "event_id": str(uuid7())}, "event_id"),
    # Text: a NUL (which PostgreSQL refuses in text; it used to sink the whole batch with a 500) or any other
    # control character, anywhere in the string.
    "studentId with a NUL": (lambda w: _with(w, studentId=f"{w.eligible[1].id}\x00"), "studentId"),
    "studentId only a NUL": (lambda w: _with(w, studentId="\x00"), "studentId"),
    "studentId with a line feed": (lambda w: _with(w, studentId=f"{w.eligible[1].id}\n"), "studentId"),
    "studentId with an escape": (lambda w: _with(w, studentId="\x1b[31m"), "studentId"),
    "studentId with DEL": (lambda w: _with(w, studentId="abc\x7f"), "studentId"),
    "studentId with a C1 control": (lambda w: _with(w, studentId="abc\x85"), "studentId"),
    "qrToken with a NUL": (lambda w: _with(w, qrToken="abc\x00def", method="qr"), "qrToken"),
    "qrToken not base64url": (lambda w: _with(w, qrToken="abc def", method="qr"), "qrToken"),
    "eventId in braces": (lambda w: _with(w, eventId="{" + str(uuid7()) + "}"), "eventId"),
    "eventId as a URN": (lambda w: _with(w, eventId="urn:uuid:" + str(uuid7())), "eventId"),
    # servedAt: instants that overflow once converted to UTC or to the school's zone (a 500 before), and
    # instants outside the window of wallet.ingest.rules.SERVED_AT_WINDOW.
    "servedAt 9999-12-31 at -14:00": (lambda w: _with(w, servedAt="9999-12-31T23:59:59-14:00"), "servedAt"),
    "servedAt 0001-01-01 at +14:00": (lambda w: _with(w, servedAt="0001-01-01T00:00:00+14:00"), "servedAt"),
    "servedAt 9999-12-31 in UTC": (lambda w: _with(w, servedAt="9999-12-31T23:59:59Z"), "servedAt"),
    "servedAt 0001-01-01 in UTC": (lambda w: _with(w, servedAt="0001-01-01T00:00:00Z"), "servedAt"),
    "servedAt in 1970": (lambda w: _with(w, servedAt="1970-01-01T00:00:00Z"), "servedAt"),
    "servedAt 367 days ago": (lambda w: _with(w, servedAt=_days_from_now(-367)), "servedAt"),
    "servedAt in 367 days": (lambda w: _with(w, servedAt=_days_from_now(367)), "servedAt"),
    "servedAt in 2100": (lambda w: _with(w, servedAt="2100-01-01T12:00:00+05:00"), "servedAt"),
}


def _days_from_now(days: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def test_bad_events_are_invalid_and_the_others_are_recorded(checked, session_factory, world, terminal_key):
    # Every bad event in one batch, between two good ones: each gets its own error, the good ones are recorded.
    names = list(BAD_EVENTS)
    events = [meal_event(world.eligible[0], 1), *(BAD_EVENTS[n][0](world) for n in names),
              meal_event(world.eligible[2], 3)]
    response = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(events)))
    assert results[0]["status"] == results[-1]["status"] == "recorded"
    assert body["summary"] == {"recorded": 2, "replayed": 0, "conflict": 0, "invalid": len(names)}
    failures = []
    for index, name in enumerate(names, start=1):
        result, field = results[index], f"events/{index}/{BAD_EVENTS[name][1]}"
        if result["status"] != "invalid" or result.get("code") != "validation_failed":
            failures.append(f"{name}: {result}")
        elif field not in {e["field"] for e in result["errors"]}:
            failures.append(f"{name}: no error for {field}: {result['errors']}")
        elif {"entryId", "verdict", "position", "leafHash"} & result.keys():
            failures.append(f"{name}: an invalid result with ledger fields: {result}")
    assert not failures, "\n".join(failures)
    with session_factory() as session:
        stored = session.scalars(select(LedgerEntry.device_seq).order_by(LedgerEntry.position)).all()
    assert stored == [1, 3]


def test_one_bad_event_alone_beside_a_good_one(checked, session_factory, world, terminal_key):
    bad, good = _with(world, mealType="dinner"), meal_event(world.eligible[0], 1)
    response = checked.post(EVENTS, json=batch(bad, good), headers=terminal_key.headers())
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["invalid", "recorded"]
    assert results[0]["eventId"] == bad["eventId"]  # echoed, so the terminal knows which event to fix
    assert count(session_factory) == 1


def test_an_event_that_is_not_an_object_is_invalid(checked, session_factory, world, terminal_key):
    odd = ["an event", 17, None, [], True, 2.5]
    response = checked.post(EVENTS, json=batch(meal_event(world.eligible[0], 1), *odd),
                            headers=terminal_key.headers())
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["recorded", *["invalid"] * len(odd)]
    assert all(r["eventId"] is None and r["errors"] for r in results[1:])
    assert count(session_factory) == 1


def test_a_mass_assigned_verdict_is_not_recorded_even_for_a_refused_meal(checked, session_factory, world,
                                                                          terminal_key):
    # The not-eligible pupil with verdict/price smuggled in: refused as invalid, never stored as billable.
    event = {**meal_event(world.not_eligible, 1), "verdict": "billable", "priceTiyn": 85000}
    response = checked.post(EVENTS, json=batch(event), headers=terminal_key.headers())
    assert response.get_json()["results"][0]["status"] == "invalid"
    assert count(session_factory) == 0
    # Sent properly, the same meal is recorded with the service's own verdict.
    event = meal_event(world.not_eligible, 1)
    result = checked.post(EVENTS, json=batch(event), headers=terminal_key.headers()).get_json()["results"][0]
    assert result["verdict"] == "not_billable" and "priceTiyn" not in result


def test_served_at_inside_the_window_is_judged_not_refused(checked, session_factory, world, terminal_key):
    """Just inside the window, a meal is recorded with a verdict (a late or early clock is for the rules to
    judge: not a serving day, device clock out of bounds), not refused as invalid."""
    events = [meal_event(world.eligible[0], 1, served_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=365)),
              meal_event(world.eligible[1], 2, served_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=365))]
    response = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers())
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["recorded", "recorded"], results
    assert "device_clock_out_of_bounds" in results[1]["reasons"]
    assert count(session_factory) == 2


def test_a_batch_of_only_bad_events_stores_nothing(checked, session_factory, world, terminal_key):
    events = [_with(world, mealType="dinner"), _with(world, deviceSeq=0), _with(world, servedAt="soon")]
    response = checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers())
    assert response.status_code == 200
    assert response.get_json()["summary"]["invalid"] == 3
    assert count(session_factory) == 0


def test_a_deeply_nested_value_inside_an_event_is_invalid(checked, session_factory, world, terminal_key):
    nested: list = []
    for _ in range(200):
        nested = [nested]
    response = checked.post(EVENTS, json=batch(_with(world, studentId=nested), meal_event(world.eligible[0], 1)),
                            headers=terminal_key.headers())
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["invalid", "recorded"]
    assert count(session_factory) == 1


def test_an_unpaired_surrogate_is_malformed_json_and_stores_nothing(checked, world, terminal_key, session_factory):
    good = meal_event(world.eligible[0], 1)
    bad = {**meal_event(world.eligible[1], 2), "studentId": "\ud800"}
    body = json.dumps(batch(good, bad))  # ensure_ascii escapes the surrogate as \ud800
    response = checked.post("/api/v1/terminal/events", data=body, content_type="application/json",
                            headers=terminal_key.headers())
    assert response.status_code == 400 and response.get_json()["code"] == "malformed_json"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
