"""openapi.yaml says exactly what the service accepts: every string a client sends has a stated form (a
pattern that states the text rule of wallet.text or a stricter one, an enum or a format) and a length bound,
every integer both bounds, and the bounds the code takes from its configuration are the contract's.
tests/security/test_every_field.py sends what these bounds refuse; this test keeps the bounds written down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.schemas.common import MONTH_PATTERN
from tests.security.test_every_field import METHODS, body_fields, resolve, spec
from wallet.config import QR_TTL_BOUNDS_S, Settings
from wallet.text import PROSE_PATTERN, SINGLE_LINE_PATTERN

TEXT_RULES = {SINGLE_LINE_PATTERN, PROSE_PATTERN}


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for template, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {template}", item[method]


def _inputs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, schema) of every path and query parameter and every request-body field (JSON and text)."""
    for name, op in _operations():
        for parameter in op.get("parameters", []):
            parameter = resolve(parameter)
            if parameter["in"] in ("path", "query"):
                yield f"{name} {parameter['in']}:{parameter['name']}", resolve(parameter["schema"])
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            for path, schema in body_fields(content["application/json"]["schema"]):
                yield f"{name} body:{'/'.join(map(str, path))}", resolve(schema)


def _kinds(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return set(kind) if isinstance(kind, list) else {kind}


def _string_problem(schema: dict[str, Any]) -> str | None:
    if "enum" in schema or "const" in schema or schema.get("format") in ("date", "date-time", "uuid"):
        return None
    pattern = schema.get("pattern", "")
    if "maxLength" not in schema and (not pattern or re.search(r"[*+]|\{[0-9]+,\}", pattern)):
        return "no maxLength (nor a pattern that bounds the length)"
    if "pattern" not in schema:
        return "no pattern (the text rule, wallet.text.SINGLE_LINE_PATTERN or PROSE_PATTERN, or a stricter one)"
    return None


def test_every_string_and_integer_a_client_sends_is_bounded():
    problems = []
    for name, schema in _inputs():
        kinds = _kinds(schema)
        if "string" in kinds and (problem := _string_problem(schema)):
            problems.append(f"{name}: {problem}")
        if "integer" in kinds and not {"minimum", "maximum"} <= schema.keys():
            problems.append(f"{name}: an integer without minimum and maximum")
    assert not problems, "\n".join(problems)


def test_free_text_states_the_text_rule():
    """A string whose only pattern is the text rule states it exactly, so the contract cannot drift."""
    for name, schema in _inputs():
        pattern = schema.get("pattern", "")
        if "\\u0000" in pattern:
            assert pattern in TEXT_RULES, f"{name}: {pattern}"


def test_every_month_has_the_month_pattern():
    months = [(n, s) for n, s in _inputs() if n.endswith((":month", "/month"))]
    assert months
    for name, schema in months:
        assert schema.get("pattern") == f"^{MONTH_PATTERN}$", name


def test_every_region_is_one_to_32_characters():
    regions = [(n, s) for n, s in _inputs() if n.endswith((":region", "/region"))]
    assert regions
    for name, schema in regions:
        assert (schema.get("minLength"), schema.get("maxLength")) == (1, 32), name


def _body_schema(operation_id: str) -> dict[str, Any]:
    op = next(op for _, op in _operations() if op["operationId"] == operation_id)
    return resolve(op["requestBody"]["content"]["application/json"]["schema"])


def test_enrolment_and_registration_take_the_same_public_keys():
    from api.admin import TerminalCreateSchema
    from api.terminals import EnrollSchema

    enrol, register = (_body_schema(op)["properties"]["publicKey"] for op in ("enrollTerminal", "registerTerminal"))
    assert (enrol["minLength"], enrol["maxLength"]) == (register["minLength"], register["maxLength"]) == (40, 64)
    for schema in (EnrollSchema(), TerminalCreateSchema()):
        field = schema.fields["public_key"]
        assert (field.min_length, field.max_length) == (40, 64)


def test_the_qr_lifetime_bound_is_the_configured_ceiling():
    """The contract's maximum lifetimeS is the highest WALLET_QR_TOKEN_TTL_S may be, and the default."""
    lifetime = resolve(spec()["components"]["schemas"]["QrTokenRequest"])["properties"]["lifetimeS"]
    assert lifetime["maximum"] == QR_TTL_BOUNDS_S[1] == Settings.qr_token_ttl_s
    assert lifetime["minimum"] == QR_TTL_BOUNDS_S[0]


@pytest.mark.parametrize("status", ["414", "431"])
def test_what_gunicorn_answers_itself_is_documented_on_every_operation(status):
    missing = [name for name, op in _operations() if status not in op["responses"]]
    assert not missing, missing
