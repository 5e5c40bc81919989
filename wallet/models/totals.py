"""Derived totals of the ledger, kept in the append transaction, so an open month's reconciliation reads
groups instead of entries.

Like `meal_slots`, these tables are an index over the ledger, not the record: mutable, not hashed, and
rebuildable at any time from the entries (`wallet totals rebuild`; `wallet totals check` compares them with
a fresh aggregation). Their keys are exactly the groups the reconciliation forms over a month's entries.

Key columns that are nullable on the entries hold a sentinel instead of NULL (`''` for text, `0` for the
contract id), so a plain primary key can serve `INSERT ... ON CONFLICT DO UPDATE` on PostgreSQL and SQLite
alike; readers map the sentinels back to NULL.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Date, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base

NO_TEXT = ""  # stands for NULL in text key columns (category, terminal)
NO_CONTRACT = 0  # stands for NULL in contract_id (contract ids start at 1)


class LedgerDayTotal(Base):
    """Entries of one school and serving day, grouped by everything the monthly lines are made of.

    `late` is 1 when the entry was received at or after the end of its serving day in the school's time
    zone (at the time of the append), else 0.
    """

    __tablename__ = "ledger_day_totals"
    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serving_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    meal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    contract_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16), primary_key=True)
    reasons: Mapped[str] = mapped_column(String(200), primary_key=True)
    late: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    seq_min: Mapped[int | None] = mapped_column(BigInteger)
    seq_max: Mapped[int | None] = mapped_column(BigInteger)
    seq_n: Mapped[int] = mapped_column(BigInteger)


class LedgerChildMonthTotal(Base):
    """A child's entries of one month (of the serving day) and meal type, summed into what decides whether
    the reconciliation flags the child (migration 0012; before, one row per kind, verdict and reasons).

    `net`: billable meals minus billable voids (and other billable kinds); `bits`: the same signed sum of
    2^(day of month - 1) over them, so `net` equals the number of one-bits of `bits` exactly when no day
    has two net billable meals. `dup` / `not_enrolled`: refused meal attempts whose reasons name
    `duplicate_meal` / `not_enrolled`; `dup_days` / `not_enrolled_days`: the bitwise or of their days' bits.
    A child is flagged when `dup > 0 OR not_enrolled > 0 OR bit_count(bits) != net`: a test on one row.
    """

    __tablename__ = "ledger_child_month_totals"
    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    meal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    net: Mapped[int] = mapped_column(BigInteger)
    bits: Mapped[int] = mapped_column(BigInteger)
    dup: Mapped[int] = mapped_column(BigInteger)
    dup_days: Mapped[int] = mapped_column(BigInteger)
    not_enrolled: Mapped[int] = mapped_column(BigInteger)
    not_enrolled_days: Mapped[int] = mapped_column(BigInteger)


class CeilingDayTotal(Base):
    """Eligible children of one school on one serving day, by the ground they count under (migration 0022):
    each child once a day, under the first of its grounds in the ingest's billing priority. The registry's
    half of the reconciliation's ceiling, derived from enrollments, eligibility and the calendar."""

    __tablename__ = "ceiling_day_totals"
    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    children: Mapped[int] = mapped_column(Integer)


class CeilingStaleSchool(Base):
    """A school whose enrollments, eligibility or calendar changed after its ceiling rows were derived.

    Written by database triggers on those three tables (whatever writes them), cleared by
    `wallet.ceiling_days.refresh`; a stale school's ceiling is computed from the registry.
    `changes` counts the marks: a refresh deletes only the marks it read, so one made meanwhile stays."""

    __tablename__ = "ceiling_stale_schools"
    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)
