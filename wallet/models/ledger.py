"""The ledger: append-only entries in one hash chain per school, signed checkpoints, and the small mutable
tables that make appends fast and safe (chain heads, meal slots, used token ids, closed periods).

Only `ledger_entries` and `checkpoints` are part of the tamper-evident record; the database refuses any
UPDATE or DELETE of them (triggers in the migration). Everything else can be rebuilt from them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import MEAL_TYPES, Base, UTCDateTime, sql_in

ENTRY_KINDS = ("meal", "void")
VERDICTS = ("billable", "not_billable")
IDENTIFICATION_METHODS = ("qr", "card", "roster", "manual")
LEDGER_TABLES = ("ledger_entries", "checkpoints")

# SQLite's INTEGER PRIMARY KEY autoincrements only as INTEGER; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    """One reported fact at one position of a school's chain. Never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("school_id", "position"),
        UniqueConstraint("event_id"),
        UniqueConstraint("terminal_id", "device_seq"),
        UniqueConstraint("refers_to"),
        CheckConstraint(sql_in("kind", ENTRY_KINDS), name="kind_known"),
        CheckConstraint(sql_in("verdict", VERDICTS), name="verdict_known"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
        CheckConstraint("position > 0", name="position_positive"),
        CheckConstraint("price_tiyn >= 0", name="price_non_negative"),
        CheckConstraint("verdict = 'billable' OR price_tiyn = 0", name="refused_costs_nothing"),
        CheckConstraint("kind <> 'void' OR refers_to IS NOT NULL", name="void_refers"),
        Index("ix_ledger_entries_student_day", "student_id", "serving_day"),
        Index("ix_ledger_entries_school_day", "school_id", "serving_day"),
        # The findings scan's read of a month's meals, in its terminal-day order, covering what it needs on
        # PostgreSQL (index-only scans; migration 0023, docs/decisions.md "The findings scan's covering index").
        Index("ix_ledger_entries_month_terminal_day", "billing_month", "terminal_id", "serving_day", "served_at",
              "device_seq", "id", postgresql_include=["school_id", "verdict", "method", "student_id", "meal_type"],
              postgresql_where=text("kind = 'meal'"), sqlite_where=text("kind = 'meal'")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    position: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    device_seq: Mapped[int | None] = mapped_column(BigInteger)
    # The opaque reference as the terminal sent it; it names a student row only when the verdict says so.
    student_ref: Mapped[str] = mapped_column(String(64))
    student_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    meal_type: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(16))
    served_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    serving_day: Mapped[dt.date] = mapped_column(Date)
    billing_month: Mapped[str] = mapped_column(String(7))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(String(200), default="")
    category_code: Mapped[str | None] = mapped_column(String(40))
    contract_id: Mapped[int | None] = mapped_column(Integer)
    price_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    refers_to: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    # Meals identified by a dynamic QR token: the voucher and the token it named (hashed only when set,
    # so entries without them keep their canonical bytes).
    voucher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    qr_token_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # "confirmed" when the terminal showed the cook an allergen warning for this child and this meal and the
    # cook confirmed it (hashed only when set). Which allergens is never stored here: health data of a
    # child do not enter the chain, which cannot be erased.
    allergen_warning: Mapped[str | None] = mapped_column(String(16))
    # Why a meal was entered by hand (method manual only; hashed only when set, migration 0015).
    manual_reason: Mapped[str | None] = mapped_column(String(40))
    # What the terminal sent, hashed, so a replay can be told from a conflicting reuse of an event id.
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    payload: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    @property
    def reason_list(self) -> list[str]:
        return [r for r in self.reasons.split(",") if r]


class ChainHead(Base):
    """The tip of a school's chain: size, last chain hash and the Merkle frontier. Locked on append."""

    __tablename__ = "chain_heads"
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Checkpoint(Base):
    """A signed tree head of one school's chain at one size. Never updated, never deleted."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("school_id", "tree_size", "key_id"),
        CheckConstraint("tree_size >= 0", name="size_non_negative"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40), default="periodic")


class MealSlot(Base):
    """The billable meal of a child for one type and serving day; its key makes a second one impossible.

    A void frees the slot (the row is deleted: this table is an index over the ledger, not the record).
    """

    __tablename__ = "meal_slots"
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    serving_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    meal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)


class UsedTokenId(Base):
    """A terminal token's `jti`, kept until the token expires, so no token is accepted twice."""

    __tablename__ = "used_token_ids"
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class ClosedPeriod(Base):
    """A month closed for a region: later events for it are refused with reason `period_closed`."""

    __tablename__ = "closed_periods"
    __table_args__ = (UniqueConstraint("region_id", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    month: Mapped[str] = mapped_column(String(7))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(80))
