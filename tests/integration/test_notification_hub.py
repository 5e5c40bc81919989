"""The process's outbox watcher (api/notification_streams.py) on both databases: it names the children of new
rows, whatever the order in which their transactions commit, and forgets ids that never come."""

from __future__ import annotations

import datetime as dt
import uuid

from api import notification_streams
from api.notification_streams import OutboxWatcher
from wallet.models import ParentNotification


def add_row(session_factory, row_id: int, child: uuid.UUID) -> None:
    """An outbox row with a chosen id, as a transaction that took that id would commit it."""
    with session_factory() as session:
        session.add(ParentNotification(id=row_id, student_id=child, school_id=1, entry_id=row_id, kind="meal",
                                       created_at=dt.datetime.now(dt.UTC)))
        session.commit()


def poll(watcher: OutboxWatcher, session_factory) -> set[uuid.UUID]:
    with session_factory() as session:
        return watcher.poll(session)


def test_rows_committed_below_the_highest_id_seen_are_still_found(session_factory):
    first, late, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    add_row(session_factory, 10, first)
    watcher = OutboxWatcher()
    with session_factory() as session:
        watcher.start(session)
    assert poll(watcher, session_factory) == set()
    add_row(session_factory, 13, later)  # 11 and 12 were taken by transactions still open
    assert poll(watcher, session_factory) == {later}
    add_row(session_factory, 12, late)
    assert poll(watcher, session_factory) == {late}
    assert poll(watcher, session_factory) == set()  # each row once
    assert 11 in watcher.gaps and not {10, 12, 13} & set(watcher.gaps)


def test_a_restarted_watcher_finds_rows_committed_below_the_newest(session_factory):
    child = uuid.uuid4()
    add_row(session_factory, 5, uuid.uuid4())
    add_row(session_factory, 8, uuid.uuid4())  # 6 and 7: open transactions when the watcher starts
    watcher = OutboxWatcher()
    with session_factory() as session:
        watcher.start(session)
    add_row(session_factory, 7, child)
    assert poll(watcher, session_factory) == {child}


def test_ids_that_never_commit_are_forgotten(session_factory, monkeypatch):
    watcher = OutboxWatcher()
    with session_factory() as session:
        watcher.start(session)
    add_row(session_factory, 3, uuid.uuid4())
    poll(watcher, session_factory)
    assert set(watcher.gaps) == {1, 2}
    monkeypatch.setattr(notification_streams, "GAP_TTL_S", -1.0)
    poll(watcher, session_factory)
    assert watcher.gaps == {}
