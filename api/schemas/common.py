"""Shared request parsing: JSON bodies, marshmallow errors as field errors, and the field types every schema
uses for text (the rule of wallet.text), integers that are JSON numbers, and instants."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields

from api.errors import ProblemError
from wallet.errors import FieldError
from wallet.messages import N_, T_
from wallet.months import EARLIEST_YEAR, LATEST_YEAR
from wallet.text import text_problem


class Text(fields.String):
    """A string under the one text rule (wallet.text): `min_length`..`max_length` characters, no control
    characters (but tab and line breaks when `prose`), no unpaired surrogates, and, with `pattern`, the whole
    value matching it (re.fullmatch: a `$` would let a trailing line feed through)."""

    def __init__(self, *, max_length: int, min_length: int = 1, prose: bool = False, pattern: str | None = None,
                 pattern_error: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length, self.min_length, self.prose = max_length, min_length, prose
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_error = pattern_error or (f"must match {pattern}" if pattern else "")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text, max_length=self.max_length, min_length=self.min_length, prose=self.prose)
        if problem is not None:
            raise ValidationError(problem.message)
        if self.pattern is not None and self.pattern.fullmatch(text) is None:
            raise ValidationError(self.pattern_error)
        return text


BIN_PATTERN = r"[0-9]{12}"


def Bin(**kwargs: Any) -> Text:  # a field factory, read like a field class
    return Text(max_length=12, pattern=BIN_PATTERN, pattern_error="a 12-digit BIN", **kwargs)


MONTH_PATTERN = r"[0-9]{4}-[0-9]{2}"


def Month(**kwargs: Any) -> Text:  # a field factory, read like a field class
    """A month's text; its form YYYY-MM (MONTH_PATTERN, as openapi.yaml says) and range are checked by
    wallet.months.parse_month, whose code `invalid_month` clients know."""
    return Text(max_length=16, **kwargs)


def Region(**kwargs: Any) -> Text:  # a field factory, read like a field class
    """A region's code as the registry holds it (1-32 characters; regions are imported, not patterned)."""
    return Text(max_length=32, **kwargs)


class StrictInteger(fields.Integer):
    """An integer that is a JSON number: no strings, no booleans, no floats."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["strict"] = True
        super().__init__(**kwargs)

    def _validated(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class CanonicalUUID(fields.UUID):
    """A UUID in its one textual form (8-4-4-4-12 hex digits), as openapi.yaml's `format: uuid` says; not
    the braces, URN or 32-digit forms that Python's uuid also reads."""

    _CANONICAL = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    def _validated(self, value: Any) -> Any:
        if not isinstance(value, str) or self._CANONICAL.fullmatch(value) is None:
            raise self.make_error("invalid_uuid")
        return super()._validated(value)


class Day(fields.Date):
    """A day as YYYY-MM-DD (only that form: Python also reads 20261203 and 2026-W49-4) in the years the
    service reports on, 2000-2099 (wallet.months); 0001-01-01 used to overflow a range
    computed from it (a 500) and 9999-12-31 to be served."""

    _FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or self._FORM.fullmatch(value) is None:
            raise self.make_error("invalid")
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise ValidationError(T_("a day in the years %(EARLIEST_YEAR)s-%(LATEST_YEAR)s",
                                     EARLIEST_YEAR=EARLIEST_YEAR, LATEST_YEAR=LATEST_YEAR))
        return day


class Instant(fields.AwareDateTime):
    """An ISO 8601 date-time with an offset that is a real instant: 0001-01-01T00:00:00+14:00 or
    9999-12-31T23:59:59-14:00 parse, but lie outside what a datetime holds once converted to UTC (or to a
    school's zone); they are refused here instead of overflowing later."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = instant.astimezone(dt.UTC)
            (utc - dt.timedelta(days=2)) + dt.timedelta(days=4)  # any zone's local time of it exists too
        except OverflowError as exc:
            raise ValidationError(T_("not an instant a clock can show (out of range once converted to UTC)")) from exc
        return instant


def json_body() -> Any:
    """The request's JSON document; 415 for another content type, 400 for bad JSON."""
    if not request.is_json:
        raise ProblemError(415, "unsupported_media_type", T_("Send the body as application/json."))
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
        # JSON may escape an unpaired UTF-16 surrogate ("\ud800"), which is no text at all: refuse it here,
        # before it reaches a hash, a database or a file.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProblemError(400, "malformed_json", T_("The body holds an unpaired UTF-16 surrogate.")) from exc
    except (ValueError, RecursionError) as exc:
        raise ProblemError(400, "malformed_json", T_("The body is not valid JSON.")) from exc
    return data


# marshmallow's own fixed messages, marked so that the catalogs translate them (api/errors.py translates every
# field message it knows).
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."), N_("Field may not be null."), N_("Unknown field."),
    N_("Invalid input type."), N_("Invalid type."), N_("Not a valid string."), N_("Not a valid integer."),
    N_("Not a valid number."), N_("Not a valid boolean."), N_("Not a valid date."), N_("Not a valid datetime."),
    N_("Not a valid list."), N_("Not a valid mapping type."), N_("Not a valid UUID."), N_("Number too large."),
    N_("Not a valid utf-8 string."),
)


def field_errors(messages: Any, prefix: str = "") -> list[FieldError]:
    """Flatten marshmallow's nested messages into `path: message` field errors."""
    out: list[FieldError] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "body"
            out.extend(field_errors(value, path))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out.extend(FieldError(prefix or "body", m) for m in messages)
    elif isinstance(messages, list):
        for item in messages:
            out.extend(field_errors(item, prefix))
    else:
        out.append(FieldError(prefix or "body", str(messages)))
    return out


def load(schema: Schema, data: Any, prefix: str = "") -> Any:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ProblemError(422, "validation_failed", T_("Some fields are not valid."),
                           errors=field_errors(exc.messages, prefix)) from exc


def query(schema: Schema) -> Any:
    return load(schema, request.args.to_dict(), prefix="query")
