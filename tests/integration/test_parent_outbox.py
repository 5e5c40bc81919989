"""The parents' tables on real databases: the outbox is written in the entries' own transaction; cursors
survive out-of-order commits across schools; feedback and the access log are append-only."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.factories import uuid7
from wallet.ingest import Batch, MealEvent, record_batch
from wallet.ingest import service as ingest_service
from wallet.models import ChildAccessLog, LedgerEntry, MealFeedback, ParentNotification, Terminal
from wallet.parents.access_log import record_access
from wallet.parents.feedback import submit_feedback
from wallet.parents.notifications import NotificationCursor, prune_notifications, read_notifications

TOLERANCE = dt.timedelta(minutes=15)


@pytest.fixture
def terminal(session_factory, world) -> Terminal:
    with session_factory() as session:
        terminal = Terminal(id="T-outbox-1", school_id=world.school.id, public_key="A" * 43, status="active",
                            created_at=dt.datetime.now(dt.UTC))
        session.add(terminal)
        session.commit()
        return terminal


def _batch(terminal, refs: list[str]) -> Batch:
    now = dt.datetime.now(dt.UTC)
    events = [MealEvent(index=i, event_id=uuid7(now), device_seq=i + 1, student_ref=ref, meal_type="lunch",
                        served_at=now, method="qr") for i, ref in enumerate(refs)]
    return Batch(terminal.id, now, now, events)


def _count(session_factory, model) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_one_outbox_row_per_entry_about_a_known_pupil(session_factory, world, terminal):
    refs = [str(world.eligible[0].id), "unknown-card-42", str(world.eligible[0].id), str(world.not_eligible.id)]
    with session_factory() as session:
        outcomes = record_batch(session, session.get(Terminal, terminal.id), _batch(terminal, refs),
                                clock_tolerance=TOLERANCE)
    with session_factory() as session:
        rows = list(session.scalars(select(ParentNotification).order_by(ParentNotification.id)))
        entries = {e.id: e for e in session.scalars(select(LedgerEntry))}
    assert [r.entry_id for r in rows] == [o.entry.id for o in outcomes if o.entry.student_id is not None]
    assert [r.billable for r in rows] == [True, False, False]
    for row in rows:
        entry = entries[row.entry_id]
        assert (row.student_id, row.school_id, row.meal_type, row.serving_day) == (
            entry.student_id, entry.school_id, entry.meal_type, entry.serving_day)


def test_outbox_rows_share_the_entries_fate(session_factory, world, terminal):
    """Written in the same transaction: rolled back together, committed together."""
    with session_factory() as session:
        ingest_service._record_once(session, session.get(Terminal, terminal.id),
                                    _batch(terminal, [str(world.eligible[0].id)]), TOLERANCE)
        assert session.scalar(select(func.count()).select_from(ParentNotification)) == 1
        session.rollback()
    assert _count(session_factory, ParentNotification) == 0
    assert _count(session_factory, LedgerEntry) == 0


def test_a_replayed_batch_writes_no_second_notification(session_factory, world, terminal):
    batch = _batch(terminal, [str(world.eligible[0].id)])
    for _ in range(2):
        with session_factory() as session:
            record_batch(session, session.get(Terminal, terminal.id), batch, clock_tolerance=TOLERANCE)
    assert _count(session_factory, ParentNotification) == 1


def _note(session, school_id: int, student: uuid.UUID, created: dt.datetime, note_id: int | None = None) -> int:
    row = ParentNotification(student_id=student, school_id=school_id, entry_id=1, kind="meal", meal_type="lunch",
                             serving_day=created.date(), served_at=created, billable=True, created_at=created)
    if note_id is not None:
        row.id = note_id
    session.add(row)
    session.commit()
    return row.id


def test_cursor_delivers_a_late_commit_from_another_school(session_factory, world):
    """School B's transaction took a lower id than school A's but committed later: still delivered once."""
    now = dt.datetime.now(dt.UTC)
    a, b = world.eligible[0].id, world.elsewhere.id
    with session_factory() as session:
        _note(session, world.school.id, a, now, note_id=10)
        rows, cursor = read_notifications(session, [a, b], NotificationCursor.fresh(now), limit=10)
        assert [r.id for r in rows] == [10]
        _note(session, world.other_school.id, b, now, note_id=7)  # the late commit
        _note(session, world.school.id, a, now, note_id=11)
        rows, cursor = read_notifications(session, [a, b], cursor, limit=10)
        assert [r.id for r in rows] == [7, 11]
        rows, cursor = read_notifications(session, [a, b], cursor, limit=10)
        assert rows == []
        decoded = NotificationCursor.decode("p", cursor.encode("p"))
        assert decoded == cursor and decoded.seen == {world.school.id: 11, world.other_school.id: 7}


def test_fresh_cursor_starts_24_hours_back_and_old_rows_can_be_pruned(session_factory, world):
    now = dt.datetime.now(dt.UTC)
    kid = world.eligible[0].id
    with session_factory() as session:
        _note(session, world.school.id, kid, now - dt.timedelta(days=2))
        recent = _note(session, world.school.id, kid, now - dt.timedelta(hours=1))
        rows, _ = read_notifications(session, [kid], NotificationCursor.fresh(now), limit=10)
        assert [r.id for r in rows] == [recent]
        assert prune_notifications(session, now - dt.timedelta(days=1)) == 1
    assert _count(session_factory, ParentNotification) == 1


APPEND_ONLY = [
    ("child_access_log", "UPDATE child_access_log SET action = 'menu'"),
    ("child_access_log", "DELETE FROM child_access_log"),
    ("meal_feedback", "UPDATE meal_feedback SET rating = 5"),
    ("meal_feedback", "DELETE FROM meal_feedback"),
]


@pytest.fixture
def parent_rows(session_factory, world, terminal):
    """One access-log row and one feedback version."""
    with session_factory() as session:
        outcomes = record_batch(session, session.get(Terminal, terminal.id),
                                _batch(terminal, [str(world.eligible[0].id)]), clock_tolerance=TOLERANCE)
        record_access(session, actor_role="parent", actor_id="880412400008", student_ids=[world.eligible[0].id],
                      action="meals")
        submit_feedback(session, parent_iin="880412400008", child_id=world.eligible[0].id,
                        entry_id=outcomes[0].entry.id, rating=4, tags=["tasty"], comment="ok")


@pytest.mark.parametrize(("table", "statement"), APPEND_ONLY)
def test_feedback_and_access_log_are_append_only(session_factory, parent_rows, table, statement):
    model = {"child_access_log": ChildAccessLog, "meal_feedback": MealFeedback}[table]
    with session_factory() as session:
        before = [tuple(r) for r in session.execute(select(model.__table__))]
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
        assert [tuple(r) for r in session.execute(select(model.__table__))] == before


def test_application_role_grants(engine, parent_rows):
    if engine.dialect.name != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    with engine.connect() as conn:
        def can(table: str, privilege: str) -> bool:
            return conn.execute(text("SELECT has_table_privilege('wallet_app', :t, :p)"),
                                {"t": table, "p": privilege}).scalar_one()

        for table in ("meal_feedback", "child_access_log"):
            assert can(table, "SELECT") and can(table, "INSERT")
            assert not can(table, "UPDATE") and not can(table, "DELETE") and not can(table, "TRUNCATE")
        for table in ("child_allergies", "parent_notifications"):
            assert all(can(table, p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE"))
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("TRUNCATE child_access_log"))
