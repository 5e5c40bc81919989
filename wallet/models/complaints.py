"""Complaints: a parent escalates feedback on a meal to the education authority of the school's region.

A complaint is a tracked record whose status moves submitted -> in_review -> answered (auditors of the
region or operators); every move is also appended to `complaint_history`, which is never changed (triggers
in the migration). The complaint row itself carries the current status and answer, so lists are one read.
Student ids are opaque references without a foreign key, as in the ledger and the feedback.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime, sql_in
from wallet.models.ledger import BigId

COMPLAINT_STATUSES = ("submitted", "in_review", "answered")
# Tables the database keeps append-only (triggers in the complaints migration).
APPEND_ONLY_COMPLAINT_TABLES = ("complaint_history",)
OPEN_COMPLAINT = "status <> 'answered'"


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(sql_in("status", COMPLAINT_STATUSES), name="status_known"),
        CheckConstraint("status <> 'answered' OR answer IS NOT NULL", name="answered_has_answer"),
        # One open complaint per feedback (a feedback is that of one meal entry).
        Index("uq_complaints_open_entry", "entry_id", unique=True, sqlite_where=text(OPEN_COMPLAINT),
              postgresql_where=text(OPEN_COMPLAINT)),
        Index("ix_complaints_region_status", "region_id", "status", "id"),
        Index("ix_complaints_student_id_id", "student_id", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_iin: Mapped[str] = mapped_column(String(12))
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ComplaintHistory(Base):
    """One status change of a complaint (the first row: submitted). Never updated, never deleted."""

    __tablename__ = "complaint_history"
    __table_args__ = (
        CheckConstraint(sql_in("status", COMPLAINT_STATUSES), name="status_known"),
        Index("ix_complaint_history_complaint_id_id", "complaint_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))  # a parent's IIN masked; staff as role:subject
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
