"""What happens at a school: its calendar, its menus and its canteen terminals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wallet.models.base import MEAL_TYPES, Base, UTCDateTime, sql_in

DAY_KINDS = ("serving", "holiday", "closure")
TERMINAL_STATUSES = ("active", "revoked")


class CalendarDay(Base):
    """One day of a school's calendar: meals are served only on `serving` days."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        UniqueConstraint("school_id", "day"),
        CheckConstraint(sql_in("kind", DAY_KINDS), name="kind_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(300))


class Menu(Base):
    __tablename__ = "menus"
    __table_args__ = (
        UniqueConstraint("school_id", "day", "meal_type"),
        CheckConstraint(sql_in("meal_type", MEAL_TYPES), name="meal_type_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    meal_type: Mapped[str] = mapped_column(String(16))
    dishes: Mapped[list[MenuDish]] = relationship(
        back_populates="menu", cascade="all, delete-orphan", order_by="MenuDish.position"
    )


class MenuDish(Base):
    """A dish of a menu; allergens are a sorted, comma-separated list of codes from ALLERGENS."""

    __tablename__ = "menu_dishes"
    __table_args__ = (
        UniqueConstraint("menu_id", "position"),
        CheckConstraint("grams > 0", name="grams_positive"),
        CheckConstraint("kcal >= 0", name="kcal_non_negative"),
        CheckConstraint("position > 0", name="position_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    menu_id: Mapped[int] = mapped_column(ForeignKey("menus.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    grams: Mapped[int] = mapped_column(Integer)
    kcal: Mapped[int] = mapped_column(Integer)
    allergens: Mapped[str] = mapped_column(Text, default="")
    menu: Mapped[Menu] = relationship(back_populates="dishes")

    @property
    def allergen_list(self) -> list[str]:
        return [a for a in self.allergens.split(",") if a]


class Terminal(Base):
    """A canteen terminal, known by its id and its own Ed25519 public key (raw 32 bytes, base64url)."""

    __tablename__ = "terminals"
    __table_args__ = (CheckConstraint(sql_in("status", TERMINAL_STATUSES), name="status_known"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Server time minus device time at the last upload, as estimated from the batch's sentAt.
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    # What the terminal said it still held unsent after its last upload (wallet/terminal_backlog.py).
    backlog_count: Mapped[int | None] = mapped_column(Integer)
    backlog_oldest_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EnrollmentCode(Base):
    """A one-time, short-lived code an operator gives a school to enrol one terminal. Only its hash is kept."""

    __tablename__ = "enrollment_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    terminal_id: Mapped[str | None] = mapped_column(String(64))
