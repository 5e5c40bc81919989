"""Comparing two answers byte for byte except for their request ids (each request has its own)."""

from __future__ import annotations

from typing import Any

HEADER = "X-Request-Id"


def body_but_id(response: Any) -> bytes:
    """The response's body with its own request id (the `requestId` of a problem) replaced by a placeholder."""
    return bytes(response.get_data()).replace(response.headers[HEADER].encode(), b"<request id>")


def headers_but_id(response: Any) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name != HEADER}
