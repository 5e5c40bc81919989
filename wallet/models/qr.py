"""Spent QR tokens: the first meal event that presented a token at its own school spends it.

The key on `token_id` is what makes a token good for one meal, across terminals, batches and concurrent
uploads (the lookup runs under the school's chain-head lock; the key is the backstop). An index over the
ledger (each entry also carries its `qr_token_id`), so it is mutable and rebuildable, not the record.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wallet.models.base import Base, UTCDateTime


class QrTokenUse(Base):
    __tablename__ = "qr_token_uses"
    token_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    voucher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
