"""Every field of every operation in openapi.yaml, sent what no client should send: a 4xx problem answer
(never a 5xx), nothing stored.

The table is generated from openapi.yaml, so a new operation or field is covered without a new row: for each
operation, its well-formed request from tests/security/routes.py (which test_routes_are_all_listed keeps
complete) is sent with one field at a time replaced by each bad value its schema refuses:

- text: a NUL, other C0 and C1 control characters, an unpaired surrogate (a JSON "\\ud800" escape) and 10 kB;
- every JSON type the field's schema does not allow (number, boolean, null, object, list, string);
- dates: 0001-01-01T00:00:00+14:00 and 9999-12-31T23:59:59-14:00 (and their days) where a date is expected;
- numbers: 2**64, below -2**63, -1 or 0 under the minimum, one over the maximum, fractions, where an integer is.

Path and query parameters get the same values as URL text. The caller holds a valid token for the
operation's audience. One app and one database per backend serve every case: nothing may change them.

Row counts of every table must stay as they were, except two that grow by design on requests that reached
their check: `used_token_ids` (each terminal token's jti is spent on authentication, before the body is
read, so that a replay is refused whatever the body) and `child_access_log` (a parent's read of their own
child's record is logged when the child is found, also when what was asked for then turns out not to exist:
the log says who looked, not whether they found). The terminal batch answers 200 with the event `invalid` for
a bad field of an event (one bad event never sinks a batch); its envelope fields get a 4xx like any other.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import yaml
from sqlalchemy import func, inspect, select, table

from api import create_app
from tests.api.contract import SPEC_PATH
from tests.conftest import BACKENDS
from tests.security.conftest import build_sec
from tests.security.routes import ROUTES, Route
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.partitions.spec import is_partition_name
from wallet.text import PROSE_PATTERN, SINGLE_LINE_PATTERN

GROWS_BY_DESIGN = {"used_token_ids", "child_access_log"}
WHO = {"terminal": "terminal", "parent": "parent", "anonymous": None, "public": None, "metrics": "metrics"}
METHODS = ("get", "post", "put", "patch", "delete")
SURROGATE = "\ud800"
TEN_KB = "x" * 10_000
EXTREME_INSTANTS = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
EXTREME_DAYS = ("0001-01-01", "9999-12-31")
CONTROLS = ("a\x00b", "\x00", "\x01", "\x1b[2J", "x\x7f", "x\x85", "\x9f")


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}|<[^>]+>", "*", path)


@dataclass(frozen=True)
class Case:
    operation: str
    where: str  # path, query or body
    field: str  # the parameter's name, or the body field's JSON path (a/0/b)
    value: Any
    label: str

    def __str__(self) -> str:
        return f"{self.operation} {self.where}:{self.field} = {self.label}"


def _types(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        if "enum" in schema or "const" in schema:
            return {"string"}
        return None  # any JSON value (an anyOf, a free-form item): no wrong type to send
    return set(kind) if isinstance(kind, list) else {kind}


def bad_json_values(schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    schema = resolve(schema)
    types = _types(schema)
    if types is None:
        return
    wrong = {"integer": 12345, "boolean": True, "null": None, "object": {"a": 1}, "array": ["x"], "string": "text"}
    for kind, value in wrong.items():
        if kind not in types and not (kind == "integer" and "number" in types):
            yield value, f"a JSON {kind}"
    if "string" in types:
        for value in CONTROLS:
            yield value, repr(value)
        yield SURROGATE, "an unpaired surrogate"
        yield TEN_KB, "10 kB"
        if schema.get("format") in ("date-time", "date"):
            for value in (*EXTREME_INSTANTS, *EXTREME_DAYS):
                yield value, value
    if "integer" in types:
        yield from _bad_integers(schema)


def _bad_integers(schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    yield 2**64, "2**64"
    yield -(2**63) - 1, "-2**63-1"
    yield 1.5, "a fraction"
    yield 1e308, "1e308"
    if "minimum" in schema:
        yield schema["minimum"] - 1, "one under the minimum"
    if "maximum" in schema:
        yield schema["maximum"] + 1, "one over the maximum"


def bad_url_values(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Values for a path or query parameter, as the text of a URL."""
    schema = resolve(schema)
    for value in CONTROLS:
        yield value, repr(value)
    yield TEN_KB, "10 kB"
    typed = {"integer", "boolean"} & (_types(schema) or set())
    shaped = schema.get("pattern") not in (None, SINGLE_LINE_PATTERN, PROSE_PATTERN)  # more than the text rule
    if typed or shaped or any(k in schema for k in ("format", "enum")):  # a free text could be any of these
        for value in ("true", "null", "{}", "[]", "abc"):
            yield value, f"the text {value}"
    if schema.get("format") in ("date-time", "date"):
        for value in (*EXTREME_INSTANTS, *EXTREME_DAYS):
            yield value, value
    if "integer" in (_types(schema) or set()):
        for value, label in _bad_integers(schema):
            yield (f"{value:.0f}" if isinstance(value, float) and value > 1e300 else str(value)), label


def body_fields(schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict]]:
    """Every field of a JSON body schema, by path (array items as index 0), depth first."""
    schema = resolve(schema)
    for option in schema.get("allOf", []) + schema.get("anyOf", [])[:1]:
        yield from body_fields(option, path)
    for name, sub in schema.get("properties", {}).items():
        yield (*path, name), sub
        yield from body_fields(sub, (*path, name))
    if "items" in schema:
        yield from body_fields(schema["items"], (*path, 0))


def _put(body: Any, path: tuple[Any, ...], value: Any) -> Any | None:
    """The body with the value at `path`, or None when the well-formed body has no place for it."""
    body = copy.deepcopy(body)
    node = body
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or not node:
                return None
            node = node[step]
        else:
            if not isinstance(node, dict) or not isinstance(node.get(step), dict | list):
                return None
            node = node[step]
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not node:
            return None
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        return None
    return body


@dataclass(frozen=True)
class Operation:
    name: str
    route: Route
    template: str
    method: str
    spec: dict[str, Any]


def operations() -> list[Operation]:
    by_shape = {(_shape(r.rule), r.method): r for r in ROUTES}
    found = []
    for template, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                route = by_shape[(_shape(template), method.upper())]  # KeyError: add the route to routes.py
                found.append(Operation(item[method]["operationId"], route, template, method.upper(), item[method]))
    return found


def cases(op: Operation, valid_body: Any) -> Iterator[Case]:
    for parameter in op.spec.get("parameters", []):
        parameter = resolve(parameter)
        if parameter["in"] in ("path", "query"):
            for value, label in bad_url_values(parameter["schema"]):
                yield Case(op.name, parameter["in"], parameter["name"], value, label)
    body = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None or valid_body is None:
        return
    for value, label in bad_json_values({"type": "object"}):
        yield Case(op.name, "body", "", value, label)
    for path, schema in body_fields(body["schema"]):
        if _put(valid_body, path, None) is None:
            continue
        for value, label in bad_json_values(schema):
            yield Case(op.name, "body", "/".join(map(str, path)), value, label)


# --- one world per backend --------------------------------------------------------------------------------------


@dataclass
class Probe:
    sec: Any
    client: Any
    engine: Any

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            # A monthly partition's rows are counted with its table's (wallet/partitions).
            names = [t for t in inspect(conn).get_table_names() if t != "alembic_version"
                     and t not in GROWS_BY_DESIGN and not is_partition_name(t)]
            return {t: conn.execute(select(func.count()).select_from(table(t))).scalar_one() for t in names}


@pytest.fixture(scope="module", params=BACKENDS)
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    import dataclasses

    from tests.factories import make_world

    tmp = tmp_path_factory.mktemp(f"fields-{request.param}")
    if request.param == "sqlite":
        target = tmp / "wallet.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        url = f"sqlite:///{target}"
    else:
        url = request.getfixturevalue("postgres_database").reset()
    settings = dataclasses.replace(Settings(environment="test", database_url=url, instance_path=tmp / "instance"),
                                   rate_limits_enabled=False)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    app = create_app(settings, engine=engine)
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.1, WALLET_PARENT_STREAM_POLL_S=0.05)
    client = app.test_client()
    with factory() as session:
        world = make_world(session)
    yield Probe(build_sec(settings, factory, world, client), client, engine)
    engine.dispose()


def _send(probe: Probe, op: Operation, case: Case) -> Any:
    sec = probe.sec
    valid_url = op.route.url(sec)
    path, _, query_string = valid_url.partition("?")
    segments = path.split("/")
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    body = op.route.body(sec) if op.route.body else None
    if case.where == "path":
        index = op.template.split("/").index("{" + case.field + "}")
        segments[index] = quote(case.value, safe="")
    elif case.where == "query":
        query[case.field] = case.value
    elif case.field == "":
        body = case.value
    else:
        body = _put(body, tuple(int(s) if s.isdigit() else s for s in case.field.split("/")), case.value)
    target = "/".join(segments) + ("?" + urlencode(query, quote_via=quote) if query else "")
    who = WHO.get(op.route.audience, "operator")
    kwargs: dict[str, Any] = {"method": op.method, "headers": sec.headers(who)}
    if body is not None or case.where == "body":
        kwargs.update(data=json.dumps(body), content_type="application/json")  # ensure_ascii: "\ud800" escaped
    response = probe.client.open(target, **kwargs)
    response.get_data()
    response.close()
    return response


def _failure(op: Operation, case: Case, response: Any) -> str | None:
    status, body = response.status_code, response.get_json(silent=True)
    if op.name == "postMealEvents" and case.field.startswith("events/") and status == 200:
        result = body["results"][0]
        return None if result["status"] == "invalid" else f"200 with the event {result['status']}"
    if not 400 <= status < 500:
        return f"{status} {response.get_data(as_text=True)[:200]}"
    if response.mimetype != "application/problem+json" or not isinstance(body, dict) or body.get("status") != status:
        return f"{status} not a problem document: {response.mimetype}"
    return None


OPERATIONS = operations()


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_bad_value_of_every_field_is_a_4xx_problem_and_stores_nothing(probe, op):
    before = probe.counts()
    failures, sent = [], 0
    for case in cases(op, op.route.body(probe.sec) if op.route.body else None):
        sent += 1
        try:
            response = _send(probe, op, case)
        except Exception as exc:  # the test client raised: the app did not answer at all
            failures.append(f"{case}: raised {exc!r}")
            continue
        failure = _failure(op, case, response)
        if (after := probe.counts()) != before:
            changed = {t: (before[t], after[t]) for t in after if after[t] != before.get(t)}
            failure = f"{failure or response.status_code}, stored {changed}"
            before = after
        if failure is not None:
            failures.append(f"{case}: {failure}")
    assert not failures, f"{len(failures)} of {sent} cases:\n" + "\n".join(failures[:60])


def test_the_table_covers_every_operation_and_field():
    """The generator finds every operation of openapi.yaml and fields in the bodies (a guard against a
    generator that silently covers nothing)."""
    names = {op.name for op in OPERATIONS}
    declared = {item[m]["operationId"] for item in spec()["paths"].values() for m in METHODS if m in item}
    assert names == declared
    batch = next(op for op in OPERATIONS if op.name == "postMealEvents")
    fields = {"/".join(map(str, p)) for p, _ in body_fields(batch.spec["requestBody"]["content"]["application/json"]
                                                             ["schema"])}
    assert {"sentAt", "events", "events/0/studentId", "events/0/servedAt", "events/0/deviceSeq"} <= fields
