"""Checks real responses against openapi.yaml (openapi-core), so the contract cannot drift from the code."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@cache
def spec() -> OpenAPI:
    # problem+json is JSON; openapi-core only knows application/json by default.
    # An event stream is text; its events are checked by the tests that read them.
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads,
                                                    "text/event-stream": lambda data: data.decode("utf-8")})
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


def assert_conforms(response, request=None) -> None:  # type: ignore[no-untyped-def]
    """Validate a Flask test-client response against the spec's entry for its operation and status.

    `request` is a werkzeug Request with its body still unread; the test client's own has been consumed.
    """
    spec().validate_response(WerkzeugOpenAPIRequest(request or response.request), WerkzeugOpenAPIResponse(response))
