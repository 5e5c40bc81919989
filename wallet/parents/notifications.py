"""The parents' notification outbox: written with the meal entries, read by cursor (poll or event stream).

Ingest inserts one row per entry about a known pupil in the entry's own transaction, while it holds the
school's chain-head lock; so within one school, ids grow in commit order. Across schools they need not: a
school's transaction may take id 100 and commit after another school's id 101. A reader's cursor therefore
keeps the last id seen per school (a parent's children attend one or a few schools), plus a time floor for
schools it has not seen yet. Nothing is delivered twice or skipped, whatever the commit order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, and_, any_, bindparam, case, delete, false, func, insert, or_, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from wallet.models import LedgerEntry, ParentNotification
from wallet.models.base import UTCDateTime
from wallet.parents import cursors

# A stream or poll without a cursor starts with what happened in this span.
RECENT = dt.timedelta(hours=24)
MAX_SCHOOLS_IN_CURSOR = 16
CURSOR_KIND = "notifications"


def record_meal_notifications(session: Session, entries: Sequence[LedgerEntry],
                              now: dt.datetime | None = None) -> None:
    """Outbox rows for the entries that name a pupil, in the caller's transaction (the entries are flushed).

    One short statement that copies the rows from the entries just inserted, server side: on PostgreSQL the
    ids go as one array parameter (`= ANY`), so the statement text is the same for every batch and psycopg
    prepares it once; SQLite gets an IN list.
    """
    ids = [e.id for e in entries if e.student_id is not None]
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_COPY_FROM_ENTRIES_PG, {"ids": ids, "created_at": now or dt.datetime.now(dt.UTC)})
    else:
        session.execute(_COPY_FROM_ENTRIES, {"ids": ids, "created_at": now or dt.datetime.now(dt.UTC)})


def _copy_from_entries(condition: Any) -> Any:
    entries = LedgerEntry.__table__
    billable = and_(entries.c.kind == "meal", entries.c.verdict == "billable")
    return insert(ParentNotification.__table__).from_select(
        ["student_id", "school_id", "entry_id", "kind", "meal_type", "serving_day", "served_at", "billable",
         "created_at"],
        select(entries.c.student_id, entries.c.school_id, entries.c.id, entries.c.kind, entries.c.meal_type,
               entries.c.serving_day, entries.c.served_at, case((billable, true()), else_=false()),
               bindparam("created_at", type_=UTCDateTime))
        .where(condition, entries.c.student_id.is_not(None))
        .order_by(entries.c.id),
    )


_COPY_FROM_ENTRIES = _copy_from_entries(LedgerEntry.__table__.c.id.in_(bindparam("ids", expanding=True)))
_COPY_FROM_ENTRIES_PG = _copy_from_entries(
    LedgerEntry.__table__.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger))))


@dataclass(frozen=True)
class NotificationCursor:
    """Where a reader stands: the last id delivered per school, and the time floor for other schools."""

    floor: int  # unix seconds: rows created earlier are never delivered from schools not in `seen`
    seen: dict[int, int] = field(default_factory=dict)

    @classmethod
    def fresh(cls, now: dt.datetime) -> NotificationCursor:
        return cls(floor=int((now - RECENT).timestamp()))

    def after(self, rows: Iterable[ParentNotification]) -> NotificationCursor:
        seen = dict(self.seen)
        for row in rows:
            seen[row.school_id] = max(seen.get(row.school_id, 0), row.id)
        return NotificationCursor(self.floor, seen)

    def encode(self, binding: str) -> str:
        return cursors.encode(CURSOR_KIND, binding, [self.floor, sorted([s, i] for s, i in self.seen.items())])

    @classmethod
    def decode(cls, binding: str, token: str, field_name: str = "query/since") -> NotificationCursor:
        values = cursors.decode(CURSOR_KIND, binding, token, field_name)
        if not (len(values) == 2 and _natural(values[0]) and isinstance(values[1], list)
                and len(values[1]) <= MAX_SCHOOLS_IN_CURSOR):
            raise cursors.invalid(field_name)
        floor, pairs = values
        seen: dict[int, int] = {}
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and _natural(pair[0]) and _natural(pair[1])):
                raise cursors.invalid(field_name)
            seen[pair[0]] = pair[1]
        return cls(floor=floor, seen=seen)


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_notifications(
    session: Session, student_ids: Sequence[uuid.UUID], cursor: NotificationCursor, *, limit: int
) -> tuple[list[ParentNotification], NotificationCursor]:
    """The next notifications about these children after `cursor`, oldest first, and the cursor after them."""
    if not student_ids:
        return [], cursor
    floor = dt.datetime.fromtimestamp(cursor.floor, dt.UTC)
    per_school = [and_(ParentNotification.school_id == school, ParentNotification.id > last)
                  for school, last in cursor.seen.items()]
    unseen = ParentNotification.school_id.not_in(list(cursor.seen)) if cursor.seen else None
    conditions = [*per_school, unseen] if unseen is not None else per_school
    query = (
        select(ParentNotification)
        .where(ParentNotification.student_id.in_(list(student_ids)), ParentNotification.created_at >= floor)
        .order_by(ParentNotification.id)
        .limit(limit)
    )
    if conditions:
        query = query.where(or_(*conditions))
    rows = list(session.scalars(query))
    return rows, cursor.after(rows)


def newest_notification_id(session: Session) -> int:
    """The highest outbox id now (0 for an empty outbox): where a watcher of new rows starts."""
    return int(session.scalar(select(func.max(ParentNotification.id))) or 0)


def notified_children(session: Session, after_id: int, also_ids: Sequence[int] = (), *,
                      limit: int) -> list[tuple[int, uuid.UUID]]:
    """(id, child) of outbox rows with an id above `after_id` or in `also_ids`, lowest id first.

    What a process that serves many streams asks once per poll for all of them (api/notification_streams.py):
    only the primary key and the child, so the answer comes from the table's first pages and its size is
    that of the new rows, whatever the number of streams. `also_ids` are ids below `after_id` not seen yet
    (a transaction that took them may still commit: ids are not in commit order across schools)."""
    table = ParentNotification.__table__
    condition = table.c.id > after_id
    if also_ids:
        condition = or_(condition, table.c.id.in_(sorted(also_ids)))
    query = select(table.c.id, table.c.student_id).where(condition).order_by(table.c.id).limit(limit)
    return [(int(i), student) for i, student in session.execute(query)]


def prune_notifications(session: Session, before: dt.datetime) -> int:
    """Delete outbox rows created before `before` (they are a delivery aid, not a record). Commits."""
    result = session.execute(delete(ParentNotification).where(ParentNotification.created_at < before))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
