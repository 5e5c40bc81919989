"""What parents add and what their reads leave behind: a child's allergies, feedback on meals (append-only
versions), the access log of every read of a child's data (append-only), and the notification outbox that
ingest writes in the same transaction as the meal entries.

Student ids here are opaque references without a foreign key, as in the ledger: a pupil's registry record
can be corrected or erased without these tables standing in the way.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import MEAL_TYPES, Base, UTCDateTime, sql_in
from wallet.models.ledger import LedgerEntry

# SQLite's INTEGER PRIMARY KEY autoincrements only as INTEGER; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

FEEDBACK_TAGS = (
    "tasty", "hot_and_fresh", "generous_portion", "too_cold", "small_portion", "too_salty", "not_fresh",
    "undercooked", "child_did_not_eat",
)
ACCESS_ACTIONS = (
    "children", "meals_today", "meals", "menu", "feedback_read", "feedback_write", "allergies_read",
    "allergies_write", "notifications", "access_log", "complaints_read", "complaint_write", "qr_token",
    "vouchers", "voucher_read", "voucher_accept", "voucher_decline", "voucher_withdraw",
)
# Tables the database keeps append-only (triggers in migration 0004), like the ledger.
APPEND_ONLY_PARENT_TABLES = ("meal_feedback", "child_access_log")


class ChildAllergy(Base):
    """Allergens a parent recorded for a child (sorted, comma-separated codes from ALLERGENS)."""

    __tablename__ = "child_allergies"
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    allergens: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(12))

    @property
    def allergen_list(self) -> list[str]:
        return [a for a in self.allergens.split(",") if a]


class MealFeedback(Base):
    """One version of a parent's feedback on one served meal; the highest version of an entry wins.

    School, supplier, day and meal type are copied from the entry and its contract, so the staff summary
    never reads the ledger. Never updated, never deleted (triggers in the migration).
    """

    __tablename__ = "meal_feedback"
    __table_args__ = (
        UniqueConstraint("entry_id", "version"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
        Index("ix_meal_feedback_school_day", "school_id", "serving_day"),
        Index("ix_meal_feedback_supplier_day", "supplier_id", "serving_day"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    version: Mapped[int] = mapped_column(Integer)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    serving_day: Mapped[dt.date] = mapped_column(Date)
    meal_type: Mapped[str] = mapped_column(String(16))
    parent_iin: Mapped[str] = mapped_column(String(12))
    rating: Mapped[int] = mapped_column(Integer)
    tags: Mapped[str] = mapped_column(String(300), default="")
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]


class ChildAccessLog(Base):
    """Who read which child's data, what and when. Never updated, never deleted (triggers in the migration)."""

    __tablename__ = "child_access_log"
    __table_args__ = (Index("ix_child_access_log_student_id_id", "student_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))


class ParentNotification(Base):
    """The outbox: a row per ledger entry about a known pupil, written in the entry's own transaction, and a
    row per voucher offer (kind `voucher_offered`, with `voucher_id` and no meal columns; migration 0007).

    Rows of one school are inserted under that school's chain-head lock, so within a school ids grow in
    commit order; readers keep a cursor per school (wallet.parents.notifications).
    """

    __tablename__ = "parent_notifications"
    __table_args__ = (
        Index("ix_parent_notifications_student_id_id", "student_id", "id"),
        Index("ix_parent_notifications_created_at", "created_at"),
        CheckConstraint("entry_id IS NOT NULL OR voucher_id IS NOT NULL", name="about_something"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    school_id: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    meal_type: Mapped[str | None] = mapped_column(String(16))
    serving_day: Mapped[dt.date | None] = mapped_column(Date)
    served_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    billable: Mapped[bool | None] = mapped_column(Boolean)
    voucher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# A parent's history and today's status read a pupil's entries by (student, serving day), newest first. On
# PostgreSQL the index carries the columns those reads return, so they are index-only scans: a 30-day page
# touches a handful of index pages instead of one heap page per day (entries are appended day by day, so a
# pupil's rows are spread over the whole table). See docs/benchmarks.md.
PARENT_READ_COLUMNS = ("kind", "meal_type", "served_at", "verdict", "reasons", "school_id", "refers_to")
Index(
    "ix_ledger_entries_student_history", LedgerEntry.student_id, LedgerEntry.serving_day, LedgerEntry.id,
    postgresql_include=list(PARENT_READ_COLUMNS),
)


# What became of one push of an outbox row to one guardian (wallet.parents.push). Final states are all but
# `pending`: `delivered` (the gateway answered 2xx), `dead` (given up: N attempts, or a refusal that retrying
# cannot mend; `wallet notify-worker --retry-dead` requeues), `withheld` (the consent rule or a removed
# guardian link forbade it when it was due), `expired` (the outbox row was pruned before it went out).
PUSH_STATES = ("pending", "delivered", "dead", "withheld", "expired")


class PushDelivery(Base):
    """The delivery state of one notification to one guardian, kept apart from the outbox so that pruning
    the outbox never loses it. No foreign keys: the outbox row may be pruned and the guardian link removed
    before the push is due (the worker then marks it `expired` or `withheld`). The row names the guardian by
    link id, not by IIN: the IIN is read from the link when the push is sent."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "guardian_link_id"),
        Index("ix_push_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        CheckConstraint(sql_in("state", PUSH_STATES), name="state_known"),
        CheckConstraint("attempts >= 0", name="attempts_natural"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(BigInteger)
    guardian_link_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
