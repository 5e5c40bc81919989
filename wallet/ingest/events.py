"""Plain data for what a terminal sends and what it gets back, one outcome per event."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Literal

from wallet.errors import FieldError
from wallet.ledger.canonical import flat_canonical_bytes
from wallet.models import LedgerEntry
from wallet.qr.token import QrClaims

Status = Literal["recorded", "replayed", "conflict", "invalid"]
# The ledger's word for an allergen warning that the terminal showed and the cook confirmed.
ALLERGEN_WARNING_CONFIRMED = "confirmed"


@dataclass(frozen=True)
class MealEvent:
    """One meal as the terminal saw it; `index` is its place in the batch.

    A meal identified by a scanned QR token carries the token as sent and its verified claims; its
    `student_ref` may then be empty (the voucher names the child).
    """

    index: int
    event_id: uuid.UUID
    device_seq: int
    student_ref: str
    meal_type: str
    served_at: dt.datetime
    method: str
    qr_token: str | None = None
    qr: QrClaims | None = None
    # "confirmed": the terminal showed an allergen warning and the cook confirmed it; None: no warning.
    allergen_warning: str | None = None
    manual_reason: str | None = None  # method manual only (wallet.evidence.codes.MANUAL_REASONS)

    def content_hash(self) -> bytes:
        """What identifies the content: the same event id with another hash is a conflict."""
        content = {
            "eventId": str(self.event_id), "deviceSeq": self.device_seq, "studentRef": self.student_ref,
            "mealType": self.meal_type, "method": self.method,
            "servedAt": self.served_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        }
        if self.qr_token is not None:  # only then, so events without a token keep their content hash
            content["qrToken"] = self.qr_token
        if self.allergen_warning is not None:  # likewise: events without a warning keep their hash
            content["allergenWarning"] = self.allergen_warning
        if self.manual_reason is not None:  # likewise
            content["manualReason"] = self.manual_reason
        return hashlib.sha256(flat_canonical_bytes(content)).digest()


@dataclass(frozen=True)
class Batch:
    terminal_id: str
    sent_at: dt.datetime
    received_at: dt.datetime
    events: list[MealEvent]
    # What the terminal says it still holds unsent beyond this batch (count, oldest servedAt), if it says.
    backlog_count: int | None = None
    backlog_oldest_at: dt.datetime | None = None


@dataclass
class EventOutcome:
    index: int
    event_id: str | None
    status: Status
    entry: LedgerEntry | None = None
    code: str | None = None
    message: str | None = None
    errors: list[FieldError] = field(default_factory=list)
