"""Hardening that applies to every endpoint, before any view runs and after every answer.

- Bodies: the Content-Length is checked before anything is read (a terminal batch may be larger than any
  other body); a body without one (chunked) is read up to one byte past the same limit and refused (413) when
  it has that byte, never cut and processed. JSON that nests too deep or holds
  too many arrays and objects is refused before it is parsed, by a linear scan at C speed (no recursion).
- Headers: every answer, errors included, says nosniff, no referrer, no framing and a Content-Security-
  Policy that lets nothing load or run; personal data is never stored by caches (`no-store` unless a view
  chose otherwise, as the terminal roster does); Strict-Transport-Security when the request came over HTTPS.
- Proxies: X-Forwarded-For/-Proto are believed only from `trusted_proxies` hops (ProxyFix), so a client
  cannot pick its own address for the rate limits or claim HTTPS.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map, UnicodeConverter

from api.errors import ProblemError
from wallet.config import Settings
from wallet.errors import FieldError
from wallet.messages import T_
from wallet.text import MAX_PARAMETER_LENGTH, text_problem

# Endpoints whose bodies may be large (a terminal batch of 500 events, a supplier's monthly claim file); every
# other body is small. Add an endpoint here when its view reads a large body.
BATCH_ENDPOINTS = frozenset({"terminals.post_events", "reconciliation.submit_claim", "eligibility_lists.submit_list"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # An API answer is data, never a document: nothing may load, run, be framed or submitted from it.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

MAX_DATABASE_INT = 2**63 - 1  # BIGINT; SQLite's INTEGER holds the same

class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route, limited to what a database integer column holds: a larger number is not a
    route (404) instead of an overflow deep in the driver (found by fuzzing: 500 on SQLite and PostgreSQL)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DATABASE_INT)
        super().__init__(map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """Every `<name>` path parameter: 1-200 characters without a control character (wallet.text). A NUL in
    a terminal id or a feedback id used to reach the database (a 500 on PostgreSQL); such a path now names
    no route, which is a 404 problem like any other unknown path. Percent-escapes that are not UTF-8 are
    already U+FFFD when werkzeug decodes the path, so no unpaired surrogate gets here."""

    def __init__(self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength or MAX_PARAMETER_LENGTH, length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f-\x9f]")


def init_app(app: Flask, settings: Settings) -> None:
    # Before any blueprint adds its routes: converters are bound when a rule is added.
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.before_request(_check_query)
    app.before_request(_check_body)
    app.after_request(_add_headers)


def _settings() -> Settings:
    return current_app.config["WALLET_SETTINGS"]


def body_limit(endpoint: str | None, settings: Settings) -> int:
    return settings.max_batch_body_bytes if endpoint in BATCH_ENDPOINTS else settings.max_body_bytes


def depth_limit(endpoint: str | None, settings: Settings) -> int:
    return settings.max_batch_json_depth if endpoint in BATCH_ENDPOINTS else settings.max_json_depth


def _check_query() -> None:
    """Every query parameter, name and value, under the one text rule (each view's schema then checks its
    own parameters further): a NUL in `region` or `month` used to reach the database (a 500)."""
    errors = []
    for name, value in request.args.items(multi=True):
        if (problem := text_problem(name, max_length=64)) is not None:
            errors.append(FieldError("query", T_("a parameter name: %(message)s",
                                                 message=problem.message), problem.code))
        elif (problem := text_problem(value, max_length=MAX_PARAMETER_LENGTH)) is not None:
            errors.append(FieldError(f"query/{name}", problem.message, problem.code))
    if errors:
        raise ProblemError(422, "validation_failed", T_("Some query parameters are not valid."), errors=errors)


def _check_body() -> None:
    settings = _settings()
    limit = body_limit(request.endpoint, settings)
    too_large = ProblemError(413, "payload_too_large", T_("A request body here may hold at most %(limit)s bytes.",
                                                          limit=limit))
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    if request.content_length is None and request.method in BODY_METHODS:
        # No Content-Length (Transfer-Encoding: chunked): read one byte past the limit. werkzeug stops a
        # stream at max_content_length without saying so, and the cut body used to be processed (a 200).
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            raise too_large
    request.max_content_length = limit
    if request.method in BODY_METHODS and request.is_json:
        data = request.get_data(cache=True)  # kept for the view: the body is read once
        large = request.endpoint in BATCH_ENDPOINTS
        problem = data and json_shape_problem(data, depth_limit(request.endpoint, settings),
                                              None if large else settings.max_json_containers)
        if not problem and data and has_lone_surrogate(data):
            problem = "The JSON text holds an unpaired surrogate (\\uD800-\\uDFFF), which is not a character."
        if problem:
            # The same code as JSON that does not parse: to a client, both are a body the service cannot read.
            raise ProblemError(400, "malformed_json", problem)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 for an opening bracket, -1 (signed) for a closing one


def json_skeleton(data: bytes) -> bytes:
    """The brackets of a JSON text outside its strings, in order (escaped backslashes and quotes removed first)."""
    outside = data.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2]
    return b"".join(outside).translate(None, _NOT_BRACKETS)


def nests_deeper_than(skeleton: bytes, limit: int) -> bool:
    """Do the brackets nest deeper than `limit`? A running sum of +1/-1 in C (no recursion), stopping at the
    first level beyond the limit."""
    levels = accumulate(memoryview(skeleton.translate(_STEPS)).cast("b"))
    return any(level > limit for level in levels)


def json_shape_problem(data: bytes, max_depth: int, max_containers: int | None) -> str | None:
    """Why this JSON text is refused before parsing (too many arrays and objects, or nested too deep), or None.

    Linear: the string-stripping and bracket-extraction are bytes methods; the depth is a C-level running sum
    (about 50 ns a bracket). Brackets that do not match are left to the parser, which refuses them.
    """
    skeleton = json_skeleton(data)
    if max_containers is not None and len(skeleton) > 2 * max_containers:
        return f"The JSON document holds more than {max_containers} arrays and objects."
    if nests_deeper_than(skeleton, max_depth):
        return f"The JSON document nests deeper than {max_depth} levels."
    return None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def has_lone_surrogate(data: bytes) -> bool:
    """Does this JSON text escape a UTF-16 surrogate that is not half of a pair (e.g. "\\ud800")? Python
    decodes it into a str that cannot be encoded again, so it would fail deep inside (found by testing:
    a 500 from the canonical form of a terminal's event, and from an error that echoed such a key).
    I-JSON (RFC 7493) forbids them; the text is parsed only when such an escape appears at all."""
    if not _SURROGATE_ESCAPE.search(data):
        return False
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return False  # not JSON: the view says so
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
