"""Monthly reconciliation: suppliers' claims, and the signed checkpoints that froze a closed month.

A closed month (`ClosedPeriod`, in ledger.py) is tied to one signed checkpoint per school of its region,
taken in the same transaction that closed it (`PeriodCloseCheckpoint`). The month's figures are always
computed from those chain sizes, so they never change after the close, whatever is appended later.

A supplier's claim is kept as submitted, one version per submission; the newest version of a supplier's
claim for a month is the one the reconciliation compares with the ledger.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wallet.models.base import MEAL_TYPES, Base, UTCDateTime, sql_in
from wallet.models.ledger import BigId, LedgerEntry

CLAIM_FORMATS = ("csv", "json")
MONTH_SHAPE = "length({col}) = 7"


class PeriodCloseCheckpoint(Base):
    """The checkpoint of one school's chain taken when its region's month was closed."""

    __tablename__ = "period_close_checkpoints"
    closed_period_id: Mapped[int] = mapped_column(
        ForeignKey("closed_periods.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("checkpoints.id"), index=True)


class SupplierClaim(Base):
    """One submission of a supplier's monthly claim: what it asks to be paid, per school, day and meal type."""

    __tablename__ = "supplier_claims"
    __table_args__ = (
        UniqueConstraint("supplier_id", "month", "version"),
        CheckConstraint(MONTH_SHAPE.format(col="month"), name="month_shape"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint(sql_in("source_format", CLAIM_FORMATS), name="source_format_known"),
        CheckConstraint("total_meals >= 0 AND total_amount_tiyn >= 0", name="totals_non_negative"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(80))
    source_format: Mapped[str] = mapped_column(String(8))
    # SHA-256 of the file as received, so a supplier can prove which file it sent.
    file_sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    total_meals: Mapped[int] = mapped_column(BigInteger)
    total_amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[SupplierClaimLine]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="SupplierClaimLine.id"
    )


class SupplierClaimLine(Base):
    """Meals of one type served at one school on one day, as the supplier claims them."""

    __tablename__ = "supplier_claim_lines"
    __table_args__ = (
        UniqueConstraint("claim_id", "school_id", "serving_day", "meal_type"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
        CheckConstraint("meals >= 0", name="meals_non_negative"),
        CheckConstraint("amount_tiyn >= 0", name="amount_non_negative"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("supplier_claims.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    serving_day: Mapped[dt.date] = mapped_column(Date)
    meal_type: Mapped[str] = mapped_column(String(16))
    meals: Mapped[int] = mapped_column(Integer)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    claim: Mapped[SupplierClaim] = relationship(back_populates="lines")


# Entries that can adjust a closed month: voids, and meals refused only because their month was closed.
# Few rows, so a small partial index finds them by school and arrival time without scanning the ledger.
ADJUSTMENT_CANDIDATE = "kind = 'void' OR reasons = 'period_closed'"
Index(
    "ix_ledger_entries_adjustment_candidates",
    LedgerEntry.school_id,
    LedgerEntry.received_at,
    postgresql_where=text(ADJUSTMENT_CANDIDATE),
    sqlite_where=text(ADJUSTMENT_CANDIDATE),
)
