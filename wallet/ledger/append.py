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


def append_entries(session: Session, head: ChainHead, entries: Sequence[LedgerEntry], *,
                   zone: str | None = None) -> None:
    """Give each entry the next position, its payload and hashes; add them; move the head; fold them into
    the derived totals. `zone`: the school's time zone, when the caller has it at hand (else it is read)."""
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
