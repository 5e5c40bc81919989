"""Appending entries to a school's chain: lock the head, hash, insert, move the head.

Appends to one school serialise on its chain-head row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
single writer does the same); different schools append in parallel. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wallet.ledger.canonical import flat_canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.merkle import CompactRange, leaf_hash
from wallet.ledger.totals import add_entries
from wallet.models import ChainHead, LedgerEntry, School

ENTRY_FORMAT = "wallet-entry/v1"
DEFAULT_ZONE = "Asia/Almaty"

# The entry fields that are hashed, in the names they carry in the canonical JSON. No personal data:
# students are opaque references, terminals and schools are ids.
_HASHED_FIELDS = (
    ("school_id", "schoolId"), ("position", "position"), ("kind", "kind"), ("event_id", "eventId"),
    ("terminal_id", "terminalId"), ("device_seq", "deviceSeq"), ("student_ref", "studentRef"),
    ("meal_type", "mealType"), ("method", "method"), ("served_at", "servedAt"),
    ("serving_day", "servingDay"), ("billing_month", "billingMonth"), ("received_at", "receivedAt"),
    ("verdict", "verdict"), ("reasons", "reasons"), ("category_code", "category"),
    ("contract_id", "contractId"), ("price_tiyn", "priceTiyn"), ("refers_to", "refersTo"),
    ("actor", "actor"), ("note", "note"),
)
# Hashed only when set: entries made before QR tokens existed (and every non-QR entry) keep exactly the
# canonical bytes they were appended with, so existing chains verify unchanged.
# The same for the allergen warning a cook confirmed (migration 0018).
_OPTIONAL_HASHED_FIELDS = (("voucher_id", "voucherId"), ("qr_token_id", "qrTokenId"),
                           ("allergen_warning", "allergenWarning"), ("manual_reason", "manualReason"))


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)  # UUIDs


def entry_payload(entry: LedgerEntry) -> dict[str, Any]:
    """The hashed content of an entry, as plain JSON data."""
    payload: dict[str, Any] = {"format": ENTRY_FORMAT}
    for attribute, key in _HASHED_FIELDS:
        payload[key] = _json_value(getattr(entry, attribute))
    for attribute, key in _OPTIONAL_HASHED_FIELDS:
        value = getattr(entry, attribute, None)
        if value is not None:
            payload[key] = _json_value(value)
    return payload


def entry_leaf_hash(entry: LedgerEntry) -> bytes:
    return leaf_hash(flat_canonical_bytes(entry_payload(entry)))


def lock_chain_head(session: Session, school_id: int) -> ChainHead:
    """The school's chain head, created on first use and locked until the transaction ends."""
    values = {"school_id": school_id, "size": 0, "chain_hash": GENESIS_CHAIN_HASH,
              "frontier": CompactRange().to_bytes(), "updated_at": dt.datetime.now(dt.UTC)}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(ChainHead).values(**values).on_conflict_do_nothing(index_elements=["school_id"]))
    head = session.scalars(
        select(ChainHead).where(ChainHead.school_id == school_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return head


def _reserve_ids(session: Session, entries: Sequence[LedgerEntry]) -> None:
    """On PostgreSQL, take the new entries' ids from their sequence in one round trip.

    With every primary key known, the flush inserts the rows with one pipelined executemany of a short,
    prepared INSERT, instead of one INSERT ... VALUES (27 columns x 100 rows) RETURNING id that the driver
    parses again on every batch (it caches only statements under 4 KB). Ids stay unique and, within a
    school, increasing with position (the chain head lock is held); they were never gapless.
    """
    if not entries or session.get_bind().dialect.name != "postgresql":
        return
    table = LedgerEntry.__table__
    ids = sorted(session.scalars(
        select(func.nextval(func.pg_get_serial_sequence(table.name, table.c.id.name)))
        .select_from(func.generate_series(1, len(entries)))
    ))
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.id = entry_id


_COLUMNS = tuple((attr.key, attr.columns[0].key) for attr in LedgerEntry.__mapper__.column_attrs)


def _insert_rows(session: Session, entries: Sequence[LedgerEntry]) -> None:
    """Insert the entries with one Core executemany, without the ORM's unit of work (the entries stay
    transient: the caller reads their ids and fields, nothing loads them back). Every entry of a batch sets
    the same attributes (the ingest's `_judge`), so the rows share their keys, as executemany needs; an
    attribute never set gets its column default, as in a flush."""
    table = LedgerEntry.__table__
    keys = [(attr, column) for attr, column in _COLUMNS if attr in entries[0].__dict__]
    if any(len(e.__dict__.keys() & {a for a, _ in _COLUMNS}) != len(keys) for e in entries):
        raise ValueError("the entries of one insert must set the same fields")
    if entries[0].id is not None:  # PostgreSQL: the ids are reserved
        _copy_rows(session, keys, entries)
        return
    rows = [{column: getattr(e, attr) for attr, column in keys} for e in entries]
    ids = session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars()
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.id = entry_id


def _copy_rows(session: Session, keys: Sequence[tuple[str, str]], entries: Sequence[LedgerEntry]) -> None:
    """PostgreSQL: the rows as one COPY in the session's transaction (one stream instead of a Bind and an
    Execute a row: measured about half the database's CPU of an executemany, docs/benchmarks.md). The row
    trigger that fills `ledger_entry_keys` fires for COPY as for INSERT, and its unique keys refuse a
    duplicate the same way (an IntegrityError, which record_batch retries). The values are what the column
    types would bind: aware datetimes (UTCDateTime binds them in UTC; the instant is the same), UUIDs, bytes."""
    names = ", ".join(column for _, column in keys)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {LedgerEntry.__tablename__} ({names}) FROM STDIN") as copy:
        for entry in entries:
            copy.write_row([getattr(entry, attr) for attr, _ in keys])


def append_entries(session: Session, head: ChainHead, entries: Sequence[LedgerEntry], *,
                   zone: str | None = None, core: bool = False) -> None:
    """Give each entry the next position, its payload and hashes; add them; move the head; fold them into
    the derived totals. `zone`: the school's time zone, when the caller has it at hand (else it is read).
    `core`: insert them with Core instead of adding them to the session (the ingest: they stay transient)."""
    _reserve_ids(session, entries)
    frontier = CompactRange.from_bytes(head.frontier)
    chain = head.chain_hash
    position = head.size
    for entry in entries:
        position += 1
        entry.school_id = head.school_id
        entry.position = position
        payload = entry_payload(entry)
        entry.payload = flat_canonical_bytes(payload).decode()
        entry.leaf_hash = leaf_hash(entry.payload.encode())
        chain = next_chain_hash(chain, entry.leaf_hash)
        entry.chain_hash = chain
        frontier.append(entry.leaf_hash)
    if core and entries:
        _insert_rows(session, entries)
    elif not core:
        session.add_all(entries)
    head.size = position
    head.chain_hash = chain
    head.frontier = frontier.to_bytes()
    head.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    if entries:
        if zone is None:
            zone = session.scalar(select(School.timezone).where(School.id == head.school_id))
        add_entries(session, entries, zone or DEFAULT_ZONE)
