"""What terminals send: a batch of meal events, each validated on its own."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from wallet.models import IDENTIFICATION_METHODS, MEAL_TYPES
from wallet.qr.token import MAX_TOKEN_CHARS

MAX_DEVICE_SEQ = 2**53 - 1


class MealEventSchema(Schema):
    event_id = fields.UUID(required=True, data_key="eventId")
    device_seq = fields.Integer(required=True, strict=True, data_key="deviceSeq",
                                validate=validate.Range(min=1, max=MAX_DEVICE_SEQ))
    # studentId, or a scanned QR token (method qr), or both; the token's voucher then names the child.
    student_id = fields.String(load_default="", data_key="studentId", validate=validate.Length(min=1, max=64))
    qr_token = fields.String(data_key="qrToken", validate=validate.Length(min=1, max=MAX_TOKEN_CHARS))
    meal_type = fields.String(required=True, data_key="mealType", validate=validate.OneOf(MEAL_TYPES))
    served_at = fields.AwareDateTime(required=True, data_key="servedAt", format="iso")
    method = fields.String(required=True, validate=validate.OneOf(IDENTIFICATION_METHODS))

    @validates("event_id")
    def _uuid7(self, value: uuid.UUID, **_kwargs: object) -> None:
        if value.version != 7:
            raise ValidationError("eventId must be a UUIDv7 made on the device.")

    @validates_schema
    def _identified(self, data: dict[str, Any], **_kwargs: object) -> None:
        if "qr_token" in data:
            if data.get("method") not in (None, "qr"):
                raise ValidationError("an event with a qrToken has method qr.", "method")
        elif not data.get("student_id"):
            raise ValidationError("give studentId, qrToken or both.", "studentId")


class BatchEnvelopeSchema(Schema):
    """The batch without its events, which are loaded one by one so that one bad event sinks nothing."""

    sent_at = fields.AwareDateTime(required=True, data_key="sentAt", format="iso")
    # allow_none: a null in the list is one bad event (invalid on its own), not a reason to refuse the batch.
    events = fields.List(fields.Raw(allow_none=True), required=True)
