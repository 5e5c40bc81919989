"""What terminals send: a batch of meal events, each validated on its own."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from api.schemas.common import CanonicalUUID, Instant, StrictInteger, Text
from wallet.evidence.codes import MANUAL_REASONS
from wallet.messages import T_
from wallet.models import IDENTIFICATION_METHODS, MEAL_TYPES
from wallet.qr.token import MAX_TOKEN_CHARS

MAX_DEVICE_SEQ = 2**53 - 1
MAX_BACKLOG_QUEUED = 2**31 - 1
MAX_STUDENT_REF = 64
QR_TOKEN_PATTERN = r"[A-Za-z0-9_-]+"  # noqa: S105 (a pattern, not a secret)


class AllergenWarningSchema(Schema):
    """What the cook saw: a warning that the child's allergen is in this meal's dishes, and their confirmation."""

    # JSON true/false only: no "yes", 1 or "true" standing in for them.
    shown = fields.Boolean(required=True, truthy={True}, falsy={False})
    confirmed = fields.Boolean(required=True, truthy={True}, falsy={False})

    @validates_schema
    def _confirmed_when_shown(self, data: dict[str, Any], **_kwargs: object) -> None:
        if data.get("shown") and not data.get("confirmed"):
            raise ValidationError(T_("a warning the cook did not confirm records no meal."), "confirmed")
        if data.get("confirmed") and not data.get("shown"):
            raise ValidationError(T_("only a warning that was shown can be confirmed."), "confirmed")


class MealEventSchema(Schema):
    event_id = CanonicalUUID(required=True, data_key="eventId")
    device_seq = StrictInteger(required=True, data_key="deviceSeq", validate=validate.Range(min=1, max=MAX_DEVICE_SEQ))
    # studentId, or a scanned QR token (method qr), or both; the token's voucher then names the child.
    student_id = Text(load_default="", data_key="studentId", max_length=MAX_STUDENT_REF)
    qr_token = Text(data_key="qrToken", max_length=MAX_TOKEN_CHARS, pattern=QR_TOKEN_PATTERN,
                    pattern_error="base64url characters only")
    meal_type = fields.String(required=True, data_key="mealType", validate=validate.OneOf(MEAL_TYPES))
    # How far from the time of receipt servedAt may lie is the ingest's rule (wallet.ingest.rules).
    served_at = Instant(required=True, data_key="servedAt")
    method = fields.String(required=True, validate=validate.OneOf(IDENTIFICATION_METHODS))
    # Absent in events of terminals that do not check allergens (and when nothing matched): still valid.
    allergen_warning = fields.Nested(AllergenWarningSchema, data_key="allergenWarning")
    # Why staff typed the meal in by hand: required with method manual, refused with any other.
    manual_reason = fields.String(data_key="manualReason", validate=validate.OneOf(MANUAL_REASONS))

    @validates("event_id")
    def _uuid7(self, value: uuid.UUID, **_kwargs: object) -> None:
        if value.version != 7:
            raise ValidationError(T_("eventId must be a UUIDv7 made on the device."))

    @validates_schema
    def _manual_reason(self, data: dict[str, Any], **_kwargs: object) -> None:
        if data.get("method") == "manual" and "manual_reason" not in data:
            raise ValidationError(T_("a manual entry carries its reason."), "manualReason")
        if data.get("method") != "manual" and "manual_reason" in data:
            raise ValidationError(T_("only a manual entry has a manualReason."), "manualReason")

    @validates_schema
    def _identified(self, data: dict[str, Any], **_kwargs: object) -> None:
        if "qr_token" in data:
            if data.get("method") not in (None, "qr"):
                raise ValidationError(T_("an event with a qrToken has method qr."), "method")
        elif not data.get("student_id"):
            raise ValidationError(T_("give studentId, qrToken or both."), "studentId")


class BacklogSchema(Schema):
    """What the terminal still holds unsent beyond this batch, so the service can show its backlog."""

    # A journal holds weeks of meals, not billions: the bound is the stored column's (a 32-bit integer).
    queued = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_BACKLOG_QUEUED))
    oldest_served_at = Instant(load_default=None, allow_none=True, data_key="oldestServedAt")


class BatchEnvelopeSchema(Schema):
    """The batch without its events, which are loaded one by one so that one bad event sinks nothing."""

    sent_at = Instant(required=True, data_key="sentAt")
    # allow_none: a null in the list is one bad event (invalid on its own), not a reason to refuse the batch.
    events = fields.List(fields.Raw(allow_none=True), required=True)
    backlog = fields.Nested(BacklogSchema)
