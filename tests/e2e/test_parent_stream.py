"""The notification stream under a real gunicorn: a parent sees a meal within two seconds, whether the stream
was opened after the meal or was already open when it was recorded."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import requests

from tests.factories import uuid7
from tests.parent_factories import parent_fixture  # noqa: F401
from wallet.ingest import Batch, MealEvent, record_batch
from wallet.models import Terminal

STREAM = "/api/v1/parent/notifications/stream"


def record_meal(session_factory, world, student, seq: int) -> int:
    with session_factory() as session:
        terminal = session.get(Terminal, "T-live-1")
        if terminal is None:
            terminal = Terminal(id="T-live-1", school_id=world.school.id, public_key="A" * 43, status="active",
                                created_at=dt.datetime.now(dt.UTC))
            session.add(terminal)
            session.commit()
        now = dt.datetime.now(dt.UTC)
        event = MealEvent(index=0, event_id=uuid7(now), device_seq=seq, student_ref=str(student.id),
                          meal_type="lunch", served_at=now, method="qr")
        [outcome] = record_batch(session, terminal, Batch(terminal.id, now, now, [event]),
                                 clock_tolerance=dt.timedelta(minutes=15))
        return outcome.entry.id


def first_event(response: requests.Response) -> dict:
    data = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            data = json.loads(line[5:])
        elif line == "" and data is not None:
            return data
    raise AssertionError("the stream ended without an event")


def test_a_parent_who_opens_the_stream_after_a_meal_sees_it_within_two_seconds(
        live_server, session_factory, world, parent):
    entry_id = record_meal(session_factory, world, parent.child, 1)
    started = time.monotonic()
    with requests.get(live_server.url + STREAM, headers=parent.headers(), stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        event = first_event(response)
    assert time.monotonic() - started < 2.0
    assert event["entryId"] == entry_id and event["childId"] == parent.child_id


def test_an_open_stream_shows_a_new_meal_within_two_seconds(live_server, session_factory, world, parent):
    recorded: dict = {}

    def record_soon() -> None:
        time.sleep(1.2)  # the stream is open and has polled at least once by now
        recorded["entry_id"] = record_meal(session_factory, world, parent.child, 2)
        recorded["at"] = time.monotonic()

    with requests.get(live_server.url + STREAM, headers=parent.headers(), stream=True, timeout=10) as response:
        assert response.status_code == 200
        thread = threading.Thread(target=record_soon)
        thread.start()
        event = first_event(response)
        arrived = time.monotonic()
        thread.join(timeout=10)
    assert event["entryId"] == recorded["entry_id"]
    assert arrived - recorded["at"] < 2.0
