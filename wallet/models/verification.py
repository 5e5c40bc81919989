"""Verification runs: one row per run of the ledger check (`wallet verify`, the auditor endpoint, the
console's button), so the last result is shared by every host and whoever ran it.

A run is a record of evidence about the ledger, so it is append-only like the ledger itself: the database
refuses UPDATE and DELETE (triggers in the migration) and the application role may only SELECT and INSERT.
A run is written once, when it has finished; there is no "running" state to update.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime, sql_in
from wallet.models.ledger import BigId

RUN_RESULTS = ("ok", "mismatch", "error")
RUN_VIAS = ("cli", "api", "console")
PROBLEM_KINDS = ("entry", "head", "checkpoint")
APPEND_ONLY_VERIFICATION_TABLES = ("verification_runs",)


class VerificationRun(Base):
    __tablename__ = "verification_runs"
    __table_args__ = (
        CheckConstraint(sql_in("result", RUN_RESULTS), name="result_known"),
        CheckConstraint(sql_in("via", RUN_VIAS), name="via_known"),
        CheckConstraint(f"problem_kind IS NULL OR {sql_in('problem_kind', PROBLEM_KINDS)}", name="problem_kind_known"),
        # An ok run names nothing; a mismatch always says what did not match.
        CheckConstraint("result <> 'ok' OR problem IS NULL", name="ok_has_no_problem"),
        CheckConstraint("result = 'ok' OR problem IS NOT NULL", name="failure_says_why"),
        CheckConstraint("finished_at >= started_at", name="finished_after_start"),
        # Newest runs of one school (and of all schools: school_id NULL) for the console and the list.
        Index("ix_verification_runs_school_id_id", "school_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))  # "cli", or a staff member as role:subject
    # The scope: one school, or NULL for every school with a chain.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    chains_checked: Mapped[int] = mapped_column(Integer)
    entries_checked: Mapped[int] = mapped_column(BigInteger)
    checkpoints_checked: Mapped[int] = mapped_column(Integer)
    chains_failed: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(16))
    # The first thing that did not match (for a mismatch), or why the run failed (for an error).
    problem_school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    problem_kind: Mapped[str | None] = mapped_column(String(16))
    problem_position: Mapped[int | None] = mapped_column(BigInteger)
    # No foreign key: the entry named may be the very row someone deleted behind the service's back.
    problem_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    problem: Mapped[str | None] = mapped_column(Text)
    software_version: Mapped[str] = mapped_column(String(40))
