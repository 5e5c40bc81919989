"""Evidence that a meal happened (issue 16): serving windows, attendance, calendar notices, findings, rulings
and parents' disputes.

Findings and rulings are kept beside the chain, never inside it: the hashed entries are not touched. They
are append-only (triggers in migration 0015), like the ledger. Entry ids are plain columns without foreign
keys, so the ledger can be partitioned by month without these tables in the way.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import MEAL_TYPES, Base, UTCDateTime, sql_in
from wallet.models.ledger import BigId

ATTENDANCE_MARKS = ("present", "absent", "late", "left_early")
RULING_OUTCOMES = ("upheld", "dismissed")
FINDING_SOURCES = ("ingest", "scan", "parent")
# Tables the database keeps append-only (triggers in migration 0015).
APPEND_ONLY_EVIDENCE_TABLES = ("findings", "finding_entries", "finding_rulings", "calendar_notices",
                               "meal_disputes")


class ServingWindow(Base):
    """The local times a meal type may be served at a school in one shift; school_id NULL: the programme's
    default for schools that have none."""

    __tablename__ = "serving_windows"
    __table_args__ = (
        UniqueConstraint("school_id", "meal_type", "shift"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
        CheckConstraint("shift BETWEEN 1 AND 3", name="shift_range"),
        CheckConstraint("0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440",
                        name="minutes_order"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    meal_type: Mapped[str] = mapped_column(String(16))
    shift: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    end_minute: Mapped[int] = mapped_column(Integer)


class AttendanceMark(Base):
    """The class journal's mark for one pupil and day (imported; a later import corrects it)."""

    __tablename__ = "attendance_marks"
    __table_args__ = (
        UniqueConstraint("student_id", "day"),
        CheckConstraint(sql_in("mark", ATTENDANCE_MARKS), name="mark_known"),
        Index("ix_attendance_marks_school_id_day", "school_id", "day"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    mark: Mapped[str] = mapped_column(String(16))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CalendarNotice(Base):
    """When the service learnt of a calendar day's kind (each insert or change by an import)."""

    __tablename__ = "calendar_notices"
    __table_args__ = (Index("ix_calendar_notices_school_id_day", "school_id", "day"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    notified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Finding(Base):
    """An explained doubt about entries: a rule code, its evidence (JSON: entry ids, figures, parameters).

    `key` makes a finding unique per rule, so a scan run twice finds nothing new.
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("rule", "key"),
        CheckConstraint(sql_in("source", FINDING_SOURCES), name="source_known"),
        Index("ix_findings_billing_month_school_id", "billing_month", "school_id"),
        Index("ix_findings_region_id_id", "region_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    serving_day: Mapped[dt.date] = mapped_column(Date)
    billing_month: Mapped[str] = mapped_column(String(7))
    source: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str] = mapped_column(Text)  # canonical JSON
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FindingEntry(Base):
    """A ledger entry a finding doubts; a billable one's money is held while the finding is open."""

    __tablename__ = "finding_entries"
    __table_args__ = (Index("ix_finding_entries_entry_id", "entry_id"),)
    finding_id: Mapped[int] = mapped_column(BigId, ForeignKey("findings.id"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class FindingRuling(Base):
    """An auditor's ruling on a finding: upheld (the money is withheld) or dismissed (paid), with a reason."""

    __tablename__ = "finding_rulings"
    __table_args__ = (
        UniqueConstraint("finding_id"),
        CheckConstraint(sql_in("outcome", RULING_OUTCOMES), name="outcome_known"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(BigId, ForeignKey("findings.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MealDispute(Base):
    """A parent's "my child did not eat this" on one meal entry (once per meal)."""

    __tablename__ = "meal_disputes"
    __table_args__ = (UniqueConstraint("entry_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(BigId)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_iin: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    finding_id: Mapped[int] = mapped_column(BigId, ForeignKey("findings.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
