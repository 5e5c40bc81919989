"""The request id: `X-Request-Id` taken from a trusted reverse proxy, or made here.

Taken from the request only when a trusted proxy is in front (WALLET_TRUSTED_PROXIES > 0: it sets the header,
a client cannot reach the service but through it) and only when short, of safe characters and not shaped like
an IIN; otherwise a new UUID. api/request_log.py sets it first thing in a request and returns it on every
response; api/errors.py carries it in every problem document (`requestId`), so a caller can quote it and the
operator find the request's log lines.
"""

from __future__ import annotations

import re
import uuid

from flask import g, has_request_context, request

from wallet.identifiers import looks_like_iin

HEADER = "X-Request-Id"
# What a proxy's id may be: what common proxies make (UUIDs, hex, base64url-ish), short enough for any log.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def valid_request_id(value: str) -> bool:
    """A proxy's id is used only when short, of safe characters and not shaped like an IIN."""
    return bool(_SAFE_ID.fullmatch(value)) and not looks_like_iin(value)


def current_request_id() -> str | None:
    """This request's id (None outside a request)."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:  # a response made before api/request_log.py set it
        rid = g.request_id = new_or_forwarded()
    return str(rid)


def new_or_forwarded() -> str:
    forwarded = request.headers.get(HEADER, "").strip()
    trust = g.get("request_id_trusted", False)
    return forwarded if trust and valid_request_id(forwarded) else str(uuid.uuid4())
