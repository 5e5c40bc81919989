"""The access log: every read of a child's data, by whom, what and when. Appended to, never changed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Uuid, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from wallet.db import autocommitting
from wallet.identifiers import is_valid_iin, mask_iin
from wallet.models import ACCESS_ACTIONS, ChildAccessLog, GuardianLink
from wallet.models.base import UTCDateTime


@dataclass(frozen=True)
class AccessRecord:
    id: int
    at: dt.datetime
    actor_role: str
    actor_label: str
    by_reader: bool
    action: str
    detail: str | None


_LINKS = GuardianLink.__table__


@dataclass(frozen=True)
class AccessNote:
    """What a read is about to be logged as (record_access): who, what, detail."""

    actor_role: str
    actor_id: str
    action: str
    detail: str | None = None


def with_access_log(lookup: Any, links_condition: Any) -> Any:
    """On PostgreSQL, the lookup with the access-log insert in the same statement (a data-modifying CTE): one
    row per child the lookup finds, written by the statement that authorizes the read, with synchronous_commit
    off for that transaction only (see record_access)."""
    rows = select(
        bindparam("log_at", type_=UTCDateTime), _LINKS.c.student_id, bindparam("log_role", type_=String),
        bindparam("log_actor", type_=String), bindparam("log_action", type_=String),
        bindparam("log_detail", type_=String),
    ).where(links_condition, func.set_config("synchronous_commit", "off", True).is_not(None))
    logged = insert(ChildAccessLog.__table__).from_select(
        ["at", "student_id", "actor_role", "actor_id", "action", "detail"], rows).cte("logged")
    return lookup.add_cte(logged)


def log_params(note: AccessNote, now: dt.datetime) -> dict[str, Any]:
    """The parameters with_access_log's insert takes."""
    return {"log_at": now.astimezone(dt.UTC), "log_role": note.actor_role, "log_actor": note.actor_id,
            "log_action": note.action, "log_detail": note.detail[:200] if note.detail else None}


def logged_read(session: Session, plain: Any, logged: Any, params: dict[str, Any], note: AccessNote | None,
                now: dt.datetime, *, gated: bool = False) -> list[Any]:
    """Run a child lookup (its second column the child's id) and, with `note`, log the read of each child it
    finds: `logged` is `plain` through with_access_log, run on PostgreSQL; elsewhere `plain` and then
    record_access. `gated`: the statements end with the consent rule's `withheld` column, and a withheld
    child's read is not logged."""
    conn = session.connection()
    if note is not None and conn.dialect.name == "postgresql":
        rows = conn.execute(logged, {**params, **log_params(note, now)}).all()
        if not autocommitting(conn):
            session.commit()
        return rows
    rows = conn.execute(plain, params).all()
    read = [r[1] for r in rows if not (gated and r[-1])]
    if note is not None and read:
        record_access(session, actor_role=note.actor_role, actor_id=note.actor_id,
                      student_ids=read, action=note.action, detail=note.detail, now=now)
    return rows


_INSERT = insert(ChildAccessLog.__table__)
# On PostgreSQL the insert also switches synchronous_commit off for its own transaction (set_config with
# is_local), so it works the same in a transaction and in autocommit, in one round trip.
_INSERT_ASYNC_COMMIT = text(
    "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS setting) "
    "INSERT INTO child_access_log (at, student_id, actor_role, actor_id, action, detail) "
    "SELECT :at, :student_id, :actor_role, :actor_id, :action, :detail FROM async_commit"
).bindparams(bindparam("at", type_=UTCDateTime), bindparam("student_id", type_=Uuid))


def record_access(
    session: Session, *, actor_role: str, actor_id: str, student_ids: Iterable[uuid.UUID], action: str,
    detail: str | None = None, now: dt.datetime | None = None,
) -> None:
    """Append one row per child and commit.

    On PostgreSQL the commit does not wait for the WAL flush (synchronous_commit off for this transaction
    only): a database crash may lose the last fraction of a second of log rows, never corrupt them, and a
    read costs no fsync. Feedback and allergies keep fully durable commits.
    """
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    at = now or dt.datetime.now(dt.UTC)
    rows = [{"at": at, "student_id": sid, "actor_role": actor_role, "actor_id": actor_id, "action": action,
             "detail": detail[:200] if detail else None} for sid in dict.fromkeys(student_ids)]
    if not rows:
        return
    conn = session.connection()
    conn.execute(_INSERT_ASYNC_COMMIT if conn.dialect.name == "postgresql" else _INSERT, rows)
    # In autocommit (parents' reads on PostgreSQL) the insert has committed; committing the session would
    # also hand its connection back, and the request's next statement would check one out again.
    if not autocommitting(conn):
        session.commit()


def read_access_log(
    session: Session, student_id: uuid.UUID, reader_id: str, *, before_id: int | None, limit: int
) -> list[AccessRecord]:
    """A child's access log, newest first; parents' IINs are masked, the reader's own rows are marked."""
    query = select(ChildAccessLog).where(ChildAccessLog.student_id == student_id)
    if before_id is not None:
        query = query.where(ChildAccessLog.id < before_id)
    rows = session.scalars(query.order_by(ChildAccessLog.id.desc()).limit(limit))
    return [
        AccessRecord(id=row.id, at=row.at, actor_role=row.actor_role, actor_label=_label(row.actor_id),
                     by_reader=row.actor_id == reader_id, action=row.action, detail=row.detail)
        for row in rows
    ]


def _label(actor_id: str) -> str:
    return mask_iin(actor_id) if is_valid_iin(actor_id) else actor_id
