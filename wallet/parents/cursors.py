"""Opaque page cursors: base64url of a small JSON array, bound to what they page through.

A cursor carries no authority (every page is still filtered by the caller's own child), so it needs
validation rather than a secret: the kind, a check value over the binding (the child and the filters it
was made for) and the value types are checked, and anything else is refused as `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from wallet.errors import FieldError, InvalidInput
from wallet.messages import T_

MAX_CURSOR_LENGTH = 200


def _check(kind: str, binding: str, values: list[Any]) -> str:
    material = json.dumps([kind, binding, values], separators=(",", ":"), sort_keys=True).encode()
    return hashlib.sha256(material).hexdigest()[:12]


def encode(kind: str, binding: str, values: list[Any]) -> str:
    raw = json.dumps([kind, values, _check(kind, binding, values)], separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def invalid(field: str = "query/cursor", message: str = T_("The cursor is not valid here.")) -> InvalidInput:
    return InvalidInput("invalid_cursor", message, [FieldError(field, message, "invalid_cursor")])


def decode(kind: str, binding: str, token: str, field: str = "query/cursor") -> list[Any]:
    """The values of a cursor made by `encode(kind, binding, ...)`; InvalidInput for anything else."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_CURSOR_LENGTH:
        raise invalid(field)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid(field) from exc
    if not (isinstance(data, list) and len(data) == 3 and data[0] == kind and isinstance(data[1], list)
            and isinstance(data[2], str)):
        raise invalid(field)
    if data[2] != _check(kind, binding, data[1]):
        raise invalid(field)
    return data[1]
