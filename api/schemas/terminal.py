"""What terminals send: a batch of meal events, each validated on its own."""

from __future__ import annotations

import uuid

from marshmallow import Schema, ValidationError, fields, validate, validates

from wallet.models import IDENTIFICATION_METHODS, MEAL_TYPES

MAX_DEVICE_SEQ = 2**53 - 1


class MealEventSchema(Schema):
    event_id = fields.UUID(required=True, data_key="eventId")
    device_seq = fields.Integer(required=True, strict=True, data_key="deviceSeq",
                                validate=validate.Range(min=1, max=MAX_DEVICE_SEQ))
    student_id = fields.String(required=True, data_key="studentId", validate=validate.Length(min=1, max=64))
    meal_type = fields.String(required=True, data_key="mealType", validate=validate.OneOf(MEAL_TYPES))
    served_at = fields.AwareDateTime(required=True, data_key="servedAt", format="iso")
    method = fields.String(required=True, validate=validate.OneOf(IDENTIFICATION_METHODS))

    @validates("event_id")
    def _uuid7(self, value: uuid.UUID, **_kwargs: object) -> None:
        if value.version != 7:
            raise ValidationError("eventId must be a UUIDv7 made on the device.")


class BatchEnvelopeSchema(Schema):
    """The batch without its events, which are loaded one by one so that one bad event sinks nothing."""

    sent_at = fields.AwareDateTime(required=True, data_key="sentAt", format="iso")
    # allow_none: a null in the list is one bad event (invalid on its own), not a reason to refuse the batch.
    events = fields.List(fields.Raw(allow_none=True), required=True)
