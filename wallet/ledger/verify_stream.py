"""The rows `wallet verify` reads: per entry, in position order, what the hashes need and one verdict on
the columns, streamed in large batches in constant memory.

Each item is `(id, position, payload bytes, stored leaf_hash, stored chain_hash, same, row)`: `same` says
that the columns give exactly the stored payload (as `append_entries` hashes them) and that `student_id`
names the child of the hashed `studentRef`; `row` is the full row when it is at hand (else None, and the
verifier reads it by id when it must name what differs).

- PostgreSQL: psycopg directly, a server-side cursor in the caller's snapshot, binary rows, the payload as
  the bytes it is stored as (never decoded to text and encoded again), and `same` computed by the server
  while it streams (wallet/ledger/payload_sql.py). No ORM rows, no Python types per column.
- SQLite (development and small installations): the rows through SQLAlchemy, `same` from the Python rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any, cast

from psycopg.types.string import ByteaBinaryLoader
from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.ledger.append import entry_payload
from wallet.ledger.canonical import NotCanonicalError, flat_canonical_bytes
from wallet.ledger.merkle import CompactRange
from wallet.ledger.payload_sql import SAME_AS_COLUMNS
from wallet.models import LedgerEntry

__all__ = ["BATCH_ROWS", "GrowingRange", "Item", "full_row", "same_student", "stream_entries"]

BATCH_ROWS = 20_000
Item = tuple[int, int, bytes, bytes, bytes, bool, Any]
_TABLE = LedgerEntry.__table__

# Built from constants in code (no input reaches it); the school id is a bound parameter.
_PG_STATEMENT = (
    "SELECT id, position, coalesce(payload, ''), leaf_hash, chain_hash, "  # noqa: S608
    f"{SAME_AS_COLUMNS} FROM ledger_entries WHERE school_id = %s ORDER BY position"
)


class GrowingRange(CompactRange):
    """A CompactRange with `push`: `append` unchecked, for the verifier's loop, only for SHA-256 digests
    the verifier itself just made (a third of the loop's time went to append's checks)."""

    __slots__ = ()

    def push(self, leaf_hash: bytes) -> None:
        hashes, carry = self._hashes, self._size
        hashes.append(leaf_hash)
        while carry & 1:  # merge equal subtrees, as append does
            right = hashes.pop()
            hashes[-1], carry = hashlib.sha256(b"\x01" + hashes[-1] + right).digest(), carry >> 1
        self._size += 1


def stream_entries(session: Session, school_id: int) -> Iterator[Item]:
    """The school's entries in position order, in the session's transaction (its snapshot)."""
    if session.get_bind().dialect.name == "postgresql":
        return _stream_postgresql(session, school_id)
    return _stream_sqlalchemy(session, school_id)


def full_row(session: Session, entry_id: int) -> Any:
    """Every column of one entry, in the same snapshot: the verifier names what differs from it."""
    return session.execute(select(_TABLE).where(_TABLE.c.id == entry_id)).one()


def same_student(row: Any) -> bool:
    """student_id is derived on append from the hashed studentRef: both must name the same child."""
    return row.student_id is None or _as_uuid(row.student_ref) == _as_uuid(row.student_id)


def _stream_postgresql(session: Session, school_id: int) -> Iterator[Item]:
    connection = session.connection().connection.driver_connection
    assert connection is not None
    cursor = connection.cursor(name=f"verify_{school_id}", binary=True)
    # text arrives as its UTF-8 bytes, exactly as hashed on append.
    cursor.adapters.register_loader("text", ByteaBinaryLoader)
    try:
        cursor.execute(_PG_STATEMENT, (school_id,))
        for rows in _prefetched(cursor):
            for entry_id, position, payload, leaf, chain, same in rows:
                yield entry_id, position, payload, leaf, chain, same, None
    finally:
        cursor.close()


def _prefetched(cursor: Any) -> Iterator[list[Any]]:
    """The cursor's batches, the next one fetched by a thread while the caller hashes this one: the server
    rebuilds payloads while the verifier hashes, instead of each waiting for the other."""
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(BATCH_ROWS)
                batches.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # handed to the consumer, who raises it
            batches.put(exc)

    worker = threading.Thread(target=fetch, name="verify-fetch", daemon=True)
    worker.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield rows
    finally:
        stop.set()
        while worker.is_alive():  # let a fetch under way end before the cursor is closed
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        worker.join()


def _stream_sqlalchemy(session: Session, school_id: int) -> Iterator[Item]:
    statement = select(_TABLE).where(_TABLE.c.school_id == school_id).order_by(_TABLE.c.position)
    result = session.execute(statement, execution_options={"yield_per": BATCH_ROWS})
    try:
        for partition in result.partitions():
            for row in partition:
                payload = row.payload.encode()
                yield row.id, row.position, payload, row.leaf_hash, row.chain_hash, _same(row, payload), row
    finally:
        result.close()


def _same(row: Any, payload: bytes) -> bool:
    try:
        from_columns = flat_canonical_bytes(entry_payload(cast(LedgerEntry, row)))
    except NotCanonicalError:
        return False
    return from_columns == payload and same_student(row)


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
