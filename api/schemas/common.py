"""Shared request parsing: JSON bodies, marshmallow errors as field errors."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from api.errors import ProblemError
from wallet.errors import FieldError


def json_body() -> Any:
    """The request's JSON document; 415 for another content type, 400 for bad JSON."""
    if not request.is_json:
        raise ProblemError(415, "unsupported_media_type", "Send the body as application/json.")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
        # JSON may escape an unpaired UTF-16 surrogate ("\ud800"), which is no text at all: refuse it here,
        # before it reaches a hash, a database or a file.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProblemError(400, "malformed_json", "The body holds an unpaired UTF-16 surrogate.") from exc
    except (ValueError, RecursionError) as exc:
        raise ProblemError(400, "malformed_json", "The body is not valid JSON.") from exc
    return data


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
        raise ProblemError(422, "validation_failed", "Some fields are not valid.",
                           errors=field_errors(exc.messages, prefix)) from exc


def query(schema: Schema) -> Any:
    return load(schema, request.args.to_dict(), prefix="query")
