"""Digital vouchers: the state offers free meals to an eligible pupil, a guardian accepts with consent to the
processing of the child's data (or declines), and the voucher then lives through the school year.

`vouchers` holds the current state of each voucher; every change of state is a row of `voucher_transitions`
and every guardian's answer a row of `voucher_consents`, both append-only (triggers in migration 0006), so
the history of a voucher can be shown and audited, never rewritten.

The voucher id is the opaque reference that QR tokens and meal events carry; it says nothing about the
child's ground for free meals, which stays in `category_code` and is never shown to canteen staff.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime, sql_in
from wallet.models.parents import BigId

# offered -> accepted (consent recorded) or declined; accepted -> active when its validity begins;
# active -> suspended (eligibility lost, transfer) -> active again; any live state -> expired at the end of
# the school year, or withdrawn (consent withdrawn, or the offer taken back).
VOUCHER_STATUSES = ("offered", "accepted", "declined", "active", "suspended", "expired", "withdrawn")
CONSENT_DECISIONS = ("accepted", "declined", "withdrawn")
VOUCHER_ACTOR_ROLES = ("system", "parent", "school_admin", "operator")
# Tables the database keeps append-only (triggers in migration 0006), like the ledger.
APPEND_ONLY_VOUCHER_TABLES = ("voucher_transitions", "voucher_consents")


class ConsentText(Base):
    """A published version of the consent to processing a child's data, in the three languages."""

    __tablename__ = "consent_texts"
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    text_kk: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Voucher(Base):
    """One pupil's free-meal voucher at one school for one school year (e.g. "2026-2027")."""

    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("student_id", "school_id", "school_year"),
        CheckConstraint(sql_in("status", VOUCHER_STATUSES), name="status_known"),
        CheckConstraint("valid_from <= valid_to", name="period_order"),
        CheckConstraint("length(school_year) = 9", name="school_year_format"),
        Index("ix_vouchers_school_status", "school_id", "status"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    school_year: Mapped[str] = mapped_column(String(9))
    category_code: Mapped[str] = mapped_column(ForeignKey("eligibility_categories.code"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    offered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # An offer not answered by then can no longer be accepted.
    offer_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class VoucherTransition(Base):
    """One change of a voucher's state, with its reason and who made it. Never updated, never deleted."""

    __tablename__ = "voucher_transitions"
    __table_args__ = (
        CheckConstraint(f"from_status IS NULL OR {sql_in('from_status', VOUCHER_STATUSES)}",
                        name="from_status_known"),
        CheckConstraint(sql_in("to_status", VOUCHER_STATUSES), name="to_status_known"),
        CheckConstraint(sql_in("actor_role", VOUCHER_ACTOR_ROLES), name="actor_role_known"),
        Index("ix_voucher_transitions_voucher_id_id", "voucher_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vouchers.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class VoucherConsent(Base):
    """A guardian's answer to an offer (or a later withdrawal), naming the consent text they saw."""

    __tablename__ = "voucher_consents"
    __table_args__ = (
        CheckConstraint(sql_in("decision", CONSENT_DECISIONS), name="decision_known"),
        CheckConstraint("length(parent_iin) = 12", name="iin_length"),
        Index("ix_voucher_consents_voucher_id_id", "voucher_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vouchers.id"))
    parent_iin: Mapped[str] = mapped_column(String(12))
    decision: Mapped[str] = mapped_column(String(16))
    text_version: Mapped[str] = mapped_column(ForeignKey("consent_texts.version"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EligibilityList(Base):
    """A school's monthly list of entitled pupils, as its social pedagogue submitted it (month "YYYY-MM").

    A list submitted again for the same month replaces the earlier one (corrections); the spans it set in
    `student_eligibility` are what meals are judged on, the list is kept to show month-to-month changes.
    """

    __tablename__ = "eligibility_lists"
    __table_args__ = (
        UniqueConstraint("school_id", "month"),
        CheckConstraint("length(month) = 7", name="month_format"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    month: Mapped[str] = mapped_column(String(7))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(80))


class EligibilityListEntry(Base):
    """One pupil on a monthly list, with the one ground they are listed under."""

    __tablename__ = "eligibility_list_entries"
    __table_args__ = (UniqueConstraint("list_id", "student_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("eligibility_lists.id", ondelete="CASCADE"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"))
    category_code: Mapped[str] = mapped_column(ForeignKey("eligibility_categories.code"))
