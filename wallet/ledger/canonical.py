"""Canonical bytes for hashed and signed data: RFC 8785 (JSON Canonicalization Scheme).

Every hash in the ledger is taken over these bytes, so anyone holding the JSON can recompute it in any
language with a JCS implementation. We are stricter than JCS itself:

- floats are refused, because their text form depends on the formatter and a value such as 0.1 cannot be
  read back exactly; money and counts are integers in hashed data;
- only plain JSON types are allowed (no tuples, no non-string keys), so what we hash is exactly what a
  verifier parsing the JSON will see;
- integers must fit the I-JSON safe range (|n| < 2**53), so JavaScript verifiers read the same number.

Refusals raise `NotCanonicalError` (a `ValueError`) naming the JSON path of the offending value.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["MAX_SAFE_INTEGER", "NotCanonicalError", "canonical_bytes", "flat_canonical_bytes"]

# RFC 7493 (I-JSON) section 2.2: integers outside this range lose precision in IEEE 754 doubles.
MAX_SAFE_INTEGER = 2**53 - 1


class NotCanonicalError(ValueError):
    """A value cannot go into hashed data; `path` says where it is (e.g. `$.items[2].price`)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def canonical_bytes(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of `obj`, refusing anything not plain, float-free JSON."""
    _check_plain_json(obj)
    return rfc8785.dumps(obj)


def _check_plain_json(root: Any) -> None:
    # Walk with an explicit stack so that the check itself never hits the recursion limit; rfc8785
    # recurses, but only after we have confirmed that every node is a type it handles as we intend.
    stack: list[tuple[str, Any]] = [("$", root)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise NotCanonicalError(path, f"object key {key!r} is not a string")
                _check_text(f"{path} key {key!r}", key)
                stack.append((_member_path(path, key), item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        else:
            _check_scalar(path, value)


def _member_path(path: str, key: str) -> str:
    # `$.mealType` for ordinary keys; `$["a.b"]` when the key itself would make the path ambiguous.
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"


def _check_scalar(path: str, value: Any) -> None:
    # bool is tested before int because bool is a subclass of int.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, float):
        raise NotCanonicalError(path, "floats are not allowed in hashed data; use an integer or a string")
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonicalError(path, f"integer {value} is outside the I-JSON safe range")
        return
    if isinstance(value, str):
        _check_text(path, value)
        return
    raise NotCanonicalError(path, f"type {type(value).__name__} is not plain JSON")


def _check_text(path: str, text: str) -> None:
    # Lone surrogates cannot be encoded as UTF-8; rfc8785 would refuse them too, but without a path.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonicalError(path, "string is not valid Unicode (lone surrogate)") from exc


_FLAT_TYPES = (str, int, bool)


def flat_canonical_bytes(obj: dict[str, Any]) -> bytes:
    """`canonical_bytes` of a flat object of strings, safe integers, booleans and nulls, ten times faster.

    For such objects RFC 8785 output is what `json.dumps` gives with sorted keys, no spaces and no ASCII
    escaping (the same escapes for quotes, backslashes and control characters; integers in decimal; keys
    here are ASCII, so code-point order is UTF-16 order). Anything else goes to `canonical_bytes`.
    Ingest and `wallet verify` hash one such object per entry, so this shortcut is most of their hashing
    cost saved; a property test holds it to `canonical_bytes` on arbitrary text.
    """
    for key, value in obj.items():
        if not (key.isascii() and (value is None or type(value) in _FLAT_TYPES)):
            return canonical_bytes(obj)
        if type(value) is int and abs(value) > MAX_SAFE_INTEGER:
            return canonical_bytes(obj)
    try:
        return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return canonical_bytes(obj)  # a lone surrogate: let canonical_bytes name it
