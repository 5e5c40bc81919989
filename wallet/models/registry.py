"""Who and where: regions, schools, suppliers and contracts, students, enrollments, eligibility, guardians."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wallet.models.base import MEAL_TYPES, Base, sql_in

DIGITS12 = "length({col}) = 12"


class Region(Base):
    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (CheckConstraint(DIGITS12.format(col="bin"), name="bin_length"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bin: Mapped[str] = mapped_column(String(12), unique=True)
    name_kk: Mapped[str] = mapped_column(String(300))
    name_ru: Mapped[str] = mapped_column(String(300))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    region: Mapped[Region] = relationship()


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (CheckConstraint(DIGITS12.format(col="bin"), name="bin_length"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bin: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(300))


class EligibilityCategory(Base):
    """A ground for free meals (e.g. grades 1-4, targeted social assistance); rows are configuration."""

    __tablename__ = "eligibility_categories"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (CheckConstraint("valid_from <= valid_to", name="period_order"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    prices: Mapped[list[ContractPrice]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractPrice.id"
    )


class ContractPrice(Base):
    """Price of one meal in integer tiyn, by meal type and eligibility category."""

    __tablename__ = "contract_prices"
    __table_args__ = (
        UniqueConstraint("contract_id", "meal_type", "category_code"),
        CheckConstraint("price_tiyn > 0", name="price_positive"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    meal_type: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(ForeignKey("eligibility_categories.code"))
    price_tiyn: Mapped[int] = mapped_column(Integer)
    contract: Mapped[Contract] = relationship(back_populates="prices")


class Student(Base):
    """A pupil. `id` is the opaque reference used everywhere else; the IIN stays in this table only."""

    __tablename__ = "students"
    __table_args__ = (CheckConstraint(DIGITS12.format(col="iin"), name="iin_length"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    iin: Mapped[str] = mapped_column(String(12), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str | None] = mapped_column(String(100))


class Enrollment(Base):
    """A pupil in a school's class for a span of dates (end inclusive; open-ended when null)."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("student_id", "school_id", "valid_from"),
        CheckConstraint("grade BETWEEN 0 AND 12", name="grade_range"),
        CheckConstraint("valid_to IS NULL OR valid_from <= valid_to", name="period_order"),
        Index("ix_enrollments_school_class", "school_id", "class_name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    grade: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class StudentEligibility(Base):
    """A period in which a pupil is entitled to free meals on one ground."""

    __tablename__ = "student_eligibility"
    __table_args__ = (
        UniqueConstraint("student_id", "category_code", "valid_from"),
        CheckConstraint("valid_from <= valid_to", name="period_order"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("eligibility_categories.code"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)


class GuardianLink(Base):
    """A parent (by IIN, as the identity provider names them) linked to a pupil."""

    __tablename__ = "guardian_links"
    __table_args__ = (
        UniqueConstraint("parent_iin", "student_id"),
        CheckConstraint(DIGITS12.format(col="parent_iin"), name="iin_length"),
        CheckConstraint(sql_in("relation", ("mother", "father", "guardian")), name="relation_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_iin: Mapped[str] = mapped_column(String(12), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    relation: Mapped[str] = mapped_column(String(16))
