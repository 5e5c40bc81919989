"""Web console sign-ins, kept on the server so that signing out (or an operator) can end them at once.

The browser's cookie holds only a random session id; a row holds the SHA-256 of that id (a copy of the
table gives no usable cookie), the identity checked at sign-in and when the sign-in ends. Not a ledger
table: rows are deleted at sign-out and once past `expires_at`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime

MAX_PRINCIPAL_FIELD = 255


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(MAX_PRINCIPAL_FIELD))
    school_bin: Mapped[str | None] = mapped_column(String(MAX_PRINCIPAL_FIELD))
    region_code: Mapped[str | None] = mapped_column(String(MAX_PRINCIPAL_FIELD))
    supplier_bin: Mapped[str | None] = mapped_column(String(MAX_PRINCIPAL_FIELD))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
