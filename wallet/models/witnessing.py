"""The national log of school checkpoints, its signed heads, and the witnesses' cosignatures of them.

Leaf n of the national log is the C2SP checkpoint text of one school checkpoint (origin `<log>/school/<BIN>`,
size, root), so one head per period covers every school and a witness cosigns one head, not 7,000.
Leaves, heads and cosignatures are append-only (triggers in migration 0017); `witness_outcomes` is the
latest answer of each witness (mutable: it only says who is down or refusing now).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime, sql_in
from wallet.models.ledger import BigId

WITNESS_OUTCOMES = ("cosigned", "refused", "unreachable", "invalid")
APPEND_ONLY_WITNESS_TABLES = ("national_log_leaves", "national_checkpoints", "cosignatures")


class NationalLogLeaf(Base):
    __tablename__ = "national_log_leaves"
    __table_args__ = (CheckConstraint("position >= 0", name="position_natural"),)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # 0-based index
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class NationalCheckpoint(Base):
    """A signed head of the national log: the C2SP checkpoint note, signed by the operator's key."""

    __tablename__ = "national_checkpoints"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="size_non_negative"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)  # CompactRange bytes, to extend without rereading
    note: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Cosignature(Base):
    """A witness's verified cosignature line over one national checkpoint."""

    __tablename__ = "cosignatures"
    __table_args__ = (UniqueConstraint("national_checkpoint_id", "witness_name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    national_checkpoint_id: Mapped[int] = mapped_column(ForeignKey("national_checkpoints.id"), index=True)
    witness_name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WitnessOutcome(Base):
    """The latest answer of one witness: what `wallet witness status`, readiness and the console show."""

    __tablename__ = "witness_outcomes"
    __table_args__ = (CheckConstraint(sql_in("outcome", WITNESS_OUTCOMES), name="outcome_known"),)
    witness_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
