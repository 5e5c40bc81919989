"""Notifications of recorded meals: a since-cursor poll and a server-sent event stream, fed from the outbox."""

import dataclasses
import json
import threading
import time

import pytest

from tests.parent_factories import Meals, assert_problem, meals_fixture, other_parent_fixture, parent_fixture  # noqa: F401

POLL = "/api/v1/parent/notifications"
STREAM = "/api/v1/parent/notifications/stream"


def events_of(text: str) -> list[dict]:
    """Parse an event-stream body into its events (id, event, data as JSON)."""
    out = []
    for block in text.split("\n\n"):
        fields: dict = {}
        for line in block.split("\n"):
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            out.append(fields)
    return out


@pytest.fixture
def short_stream(app):
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.6, WALLET_PARENT_STREAM_POLL_S=0.2)
    return app


def test_poll_since_a_cursor(checked, parent, other_parent, meals):
    first = meals.record(parent.child)
    meals.record(other_parent.child)
    page = checked.get(POLL, headers=parent.headers())
    assert page.status_code == 200
    body = page.get_json()
    assert [i["entryId"] for i in body["items"]] == [first["entryId"]]
    item = body["items"][0]
    assert item["childId"] == parent.child_id and item["childFirstName"] == parent.child.first_name
    assert item["mealType"] == "lunch" and item["billable"] is True and item["kind"] == "meal"
    assert body["hasMore"] is False and body["cursor"]
    again = checked.get(f"{POLL}?since={body['cursor']}", headers=parent.headers()).get_json()
    assert again["items"] == []
    second = meals.record(parent.child, meal_type="breakfast")
    refused = meals.record(parent.child, meal_type="breakfast")
    later = checked.get(f"{POLL}?since={again['cursor']}", headers=parent.headers()).get_json()
    assert [(i["entryId"], i["billable"]) for i in later["items"]] == [(second["entryId"], True),
                                                                       (refused["entryId"], False)]


def test_poll_pages_with_has_more(checked, parent, meals):
    for meal_type in ("breakfast", "lunch", "snack"):
        meals.record(parent.child, meal_type=meal_type)
    first = checked.get(f"{POLL}?limit=2", headers=parent.headers()).get_json()
    assert len(first["items"]) == 2 and first["hasMore"] is True
    rest = checked.get(f"{POLL}?limit=2&since={first['cursor']}", headers=parent.headers()).get_json()
    assert [i["mealType"] for i in rest["items"]] == ["snack"] and rest["hasMore"] is False


def test_bad_and_foreign_cursors_are_refused(checked, parent, other_parent, meals):
    meals.record(parent.child)
    mine = checked.get(POLL, headers=parent.headers()).get_json()["cursor"]
    for since in ("nope", "A" * 150, mine[:-3]):
        body = assert_problem(checked.get(f"{POLL}?since={since}", headers=parent.headers()), 422,
                              "invalid_cursor")
        assert body["errors"][0]["field"] == "query/since"
    assert_problem(checked.get(f"{POLL}?since={mine}", headers=other_parent.headers()), 422, "invalid_cursor")
    assert_problem(checked.get(f"{STREAM}?since=nope", headers=parent.headers()), 422, "invalid_cursor")
    response = checked.get(STREAM, headers={**parent.headers(), "Last-Event-ID": "garbage"})
    assert assert_problem(response, 422, "invalid_cursor")["errors"][0]["field"] == "header/Last-Event-ID"
    assert_problem(checked.get(STREAM), 401, "unauthorized")


def test_stream_sends_meals_recorded_before_it_opened(checked, short_stream, parent, meals):
    recorded = meals.record(parent.child)
    response = checked.get(STREAM, headers=parent.headers())
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("retry: ")
    [event] = events_of(text)
    assert event["event"] == "meal" and event["data"]["entryId"] == recorded["entryId"]
    assert event["id"]


def test_stream_resumes_after_last_event_id(checked, short_stream, parent, meals):
    first = meals.record(parent.child, meal_type="breakfast")
    second = meals.record(parent.child, meal_type="lunch")
    events = events_of(checked.get(STREAM, headers=parent.headers()).get_data(as_text=True))
    assert [e["data"]["entryId"] for e in events] == [first["entryId"], second["entryId"]]
    resumed = checked.get(STREAM, headers={**parent.headers(), "Last-Event-ID": events[0]["id"]})
    assert [e["data"]["entryId"] for e in events_of(resumed.get_data(as_text=True))] == [second["entryId"]]
    by_query = checked.get(f"{STREAM}?since={events[1]['id']}", headers=parent.headers())
    assert events_of(by_query.get_data(as_text=True)) == []
    # The poll and the stream share one cursor format.
    poll = checked.get(f"{POLL}?since={events[0]['id']}", headers=parent.headers()).get_json()
    assert [i["entryId"] for i in poll["items"]] == [second["entryId"]]


def test_an_open_stream_shows_a_new_meal_within_two_seconds(app, client, parent, terminal_key):
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=8, WALLET_PARENT_STREAM_POLL_S=1.0)
    response = client.get(STREAM, headers=parent.headers(), buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:") or True
    recorded: dict = {}

    def record_later() -> None:
        time.sleep(0.5)
        result = Meals(app.test_client(), terminal_key).record(parent.child)
        recorded.update(result, at=time.monotonic())

    thread = threading.Thread(target=record_later)
    thread.start()
    try:
        buffer = ""
        while "event: meal" not in buffer:
            buffer += next(chunks).decode()
        arrived = time.monotonic()
    finally:
        thread.join(timeout=10)
        response.close()
    [event] = events_of(buffer)
    assert event["data"]["entryId"] == recorded["entryId"]
    assert arrived - recorded["at"] < 2.0


def test_stream_keeps_idle_connections_alive_and_ends(app, client, parent):
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.5, WALLET_PARENT_STREAM_POLL_S=0.1,
                      WALLET_PARENT_STREAM_KEEPALIVE_S=0.2)
    started = time.monotonic()
    text = client.get(STREAM, headers=parent.headers()).get_data(as_text=True)
    assert time.monotonic() - started < 3
    assert ": keepalive" in text and events_of(text) == []


def test_notifications_of_other_families_are_not_shown(checked, short_stream, parent, other_parent, meals):
    meals.record(other_parent.child)
    assert checked.get(POLL, headers=parent.headers()).get_json()["items"] == []
    assert events_of(checked.get(STREAM, headers=parent.headers()).get_data(as_text=True)) == []


def test_delivered_notifications_are_in_the_access_log(checked, short_stream, parent, meals):
    meals.record(parent.child)
    checked.get(POLL, headers=parent.headers())
    checked.get(STREAM, headers=parent.headers())
    log = checked.get(parent.url("/access-log"), headers=parent.headers()).get_json()["items"]
    assert [(i["action"], i["detail"]) for i in log] == [("notifications", "stream"), ("notifications", None)]


def _open(client, headers):  # type: ignore[no-untyped-def]
    """A stream whose body has started (its first line read); close it with .close()."""
    response = client.get(STREAM, headers=headers, buffered=False)
    assert response.status_code == 200
    assert next(iter(response.response)).startswith(b"retry:")
    return response


@pytest.mark.parametrize("cap", [1, 3])
def test_a_parent_past_the_stream_cap_gets_429_until_one_closes(app, client, checked, parent, other_parent, cap):
    app.config["WALLET_SETTINGS"] = dataclasses.replace(app.config["WALLET_SETTINGS"], streams_per_parent=cap)
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=60)
    held = [_open(client, parent.headers()) for _ in range(cap)]
    try:
        refused = checked.get(STREAM, headers=parent.headers())  # as openapi.yaml documents it
        body = assert_problem(refused, 429, "too_many_streams")
        assert int(refused.headers["Retry-After"]) > 0 and str(cap) in body["detail"]
        other = _open(client, other_parent.headers())  # the cap is the parent's, not everyone's
        other.close()
        held.pop().close()
        held.append(_open(client, parent.headers()))  # a closed stream gave its place back
    finally:
        for response in held:
            response.close()


def test_a_stream_closed_before_its_body_started_gives_its_place_back(app, client, parent):
    app.config["WALLET_SETTINGS"] = dataclasses.replace(app.config["WALLET_SETTINGS"], streams_per_parent=1)
    for _ in range(3):
        client.get(STREAM, headers=parent.headers(), buffered=False).close()
    _open(client, parent.headers()).close()


def test_the_process_stream_cap_refuses_any_parent_with_429(app, client, checked, parent, other_parent):
    app.config["WALLET_SETTINGS"] = dataclasses.replace(app.config["WALLET_SETTINGS"], streams_per_process=2)
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=60)
    held = [_open(client, parent.headers()), _open(client, parent.headers())]
    try:
        refused = checked.get(STREAM, headers=other_parent.headers())
        assert_problem(refused, 429, "too_many_streams")
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        for response in held:
            response.close()
