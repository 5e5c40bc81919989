"""Schemathesis against the app, from openapi.yaml: every operation, valid and invalid requests, with valid
tokens for each audience, on a seeded world whose ids the fuzzer is given. Never a 5xx; every answer has
a documented status, content type, headers and body.

CI runs a bounded number of examples per operation and generation mode (WALLET_FUZZ_EXAMPLES, default 15;
raise it for a longer hunt: `WALLET_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/fuzz -k sqlite`). Operations
that openapi.yaml documents but the app does not serve yet are skipped with a reason, and fuzzed as soon as
their route exists. Findings and fixes are recorded in SECURITY.md ("Fuzzing").
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.exceptions import MethodNotAllowed, NotFound

from api import create_app
from api.auth import dev_idp
from tests.conftest import BACKENDS, fresh_database_url
from tests.factories import TerminalKey, batch, make_world, meal_event
from tests.parent_factories import OTHER_PARENT_IIN, PARENT_IIN, link
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoint
from wallet.terminals import create_enrollment_code

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "15"))
BASE_URL = "http://localhost"
SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, ignored_auth]
# Contract gaps found by fuzzing in parts of openapi.yaml that other work owns: the check is left out for that
# operation only, with the reason, until the contract is fixed (then delete the line). See SECURITY.md.
KNOWN_GAPS = {
    "GET /api/v1/parent/notifications/stream": (
        response_schema_conformance,
        "text/event-stream is described as {type: string}; schemathesis validates each event (OpenAPI 3.2 "
        "itemSchema semantics), so the contract should describe one event (event, id, data)",
    ),
}
METRICS_TOKEN = "fuzz-world-metrics-token-0123456789abc"  # /metrics is served and fuzzed too
# A fuzzed terminal and one the fuzzer may revoke; the first must stay active to keep terminal calls useful.
FUZZ_TERMINAL, VICTIM_TERMINAL = "T-fuzz-1", "T-fuzz-victim"


@dataclasses.dataclass
class Seeded:
    """The world the fuzzer works in, and values that name real objects in it."""

    app: Any
    terminal: TerminalKey
    staff: list[dict[str, Any]]
    known: dict[str, list[Any]]
    new_code: Any


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One seeded database per backend for the whole module: the fuzzer works in a world that its own
    requests keep changing (terminals revoked, meals voided, feedback given), as a real one does."""
    tmp = tmp_path_factory.mktemp("fuzz")
    urls = fresh_database_url(request, request.param, tmp)
    database_url = next(urls)
    fuzz_settings = Settings(environment="test", database_url=database_url, instance_path=tmp / "instance",
                             rate_limits_enabled=False, metrics_token=METRICS_TOKEN)
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        world = make_world(session)
    yield _seed(fuzz_settings, engine, session_factory, world)
    engine.dispose()


def _seed(fuzz_settings: Settings, engine: Any, session_factory: Any, world: Any) -> Seeded:
    app = create_app(fuzz_settings, engine=engine)
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.2, WALLET_PARENT_STREAM_POLL_S=0.05)
    terminal, victim = TerminalKey(FUZZ_TERMINAL), TerminalKey(VICTIM_TERMINAL)
    with session_factory() as session:
        terminal.register(session, world.school)
        victim.register(session, world.school)
        link(session, PARENT_IIN, world.eligible[0])
        link(session, OTHER_PARENT_IIN, world.eligible[1], "father")
    client = app.test_client()
    # Meals (one gap in deviceSeq, one refused meal), a checkpoint and a feedback.
    events = [meal_event(world.eligible[0], 1), meal_event(world.eligible[1], 2),
              meal_event(world.not_eligible, 4)]
    results = client.post("/api/v1/terminal/events", json=batch(*events), headers=victim.headers()).get_json()
    entry_ids = [r["entryId"] for r in results["results"]]
    with session_factory() as session:
        make_checkpoint(session, world.school.id, load_signing_key(fuzz_settings))
        session.commit()
    with session_factory() as session:  # the parent's child: an active voucher and next year's open offer
        from tests.voucher_factories import voucher_for

        vouchers = [voucher_for(session, world.eligible[0], world.school.id, "active", today=world.today,
                                parent_iin=PARENT_IIN),
                    voucher_for(session, world.eligible[0], world.school.id, "offered",
                                today=world.today.replace(year=world.today.year + 1)),
                    voucher_for(session, world.eligible[1], world.school.id, "offered", today=world.today)]
    parent = {"Authorization": "Bearer " + dev_idp.issue_token(fuzz_settings, PARENT_IIN, {"role": "parent"})}
    posted = client.post(f"/api/v1/parent/children/{world.eligible[0].id}/meals/{entry_ids[0]}/feedback",
                         json={"rating": 4, "tags": ["tasty"]}, headers=parent)
    assert posted.status_code == 201, posted.get_data(as_text=True)
    complained = client.post(f"/api/v1/parent/children/{world.eligible[0].id}/complaints",
                             json={"entryId": entry_ids[0], "text": "cold"}, headers=parent)
    assert complained.status_code == 201, complained.get_data(as_text=True)
    complaint_id = complained.get_json()["complaintId"]

    def new_code() -> str:
        with session_factory() as session:
            return create_enrollment_code(session, world.school.bin)[0]

    staff = [{"role": "operator"}, {"role": "auditor", "region": world.region.code},
             {"role": "auditor", "region": "KZ-19"}, {"role": "school_admin", "school": world.school.bin},
             {"role": "supplier", "supplier": world.supplier.bin}]
    known = {
        "childId": [str(world.eligible[0].id), str(world.eligible[1].id), str(world.elsewhere.id)],
        "entryId": [str(e) for e in entry_ids],
        "terminalId": [FUZZ_TERMINAL, VICTIM_TERMINAL],
        "school": [world.school.bin, world.other_school.bin],
        "schoolBin": [world.school.bin, world.other_school.bin],
        "complaintId": [str(complaint_id)],
        "voucherId": [str(v.id) for v in vouchers],
    }
    return Seeded(app=app, terminal=terminal, staff=staff, known=known, new_code=new_code)


def _served(app: Any, operation: Any) -> bool:
    adapter = app.url_map.bind("localhost")
    path = operation.path.replace("{", "").replace("}", "")  # any value routes the same way
    for candidate in (path, operation.path.replace("{entryId}", "1")):
        try:
            adapter.match(candidate, method=operation.method.upper())
            return True
        except (NotFound, MethodNotAllowed):
            continue
    return False


def _authorize(case: Any, seeded: Seeded, draw: Any, settings_: Any) -> None:
    """A valid token of the operation's audience, unless the fuzzer meant to send a bad Authorization."""
    if case.operation.schema.is_security_param_negated(case):
        return
    schemes = {name for requirement in (case.operation.definition.raw.get("security") or []) for name in requirement}
    if "terminalJwt" in schemes:
        token = seeded.terminal.token()  # a fresh one per request: a jti is accepted once
    elif "parentJwt" in schemes:
        token = dev_idp.issue_token(settings_, PARENT_IIN, {"role": "parent"})
    elif "operatorJwt" in schemes:
        token = dev_idp.issue_token(settings_, "staff-fuzz", draw(st.sampled_from(seeded.staff)))
    elif "metricsToken" in schemes:
        token = METRICS_TOKEN
    else:
        return
    case.headers["Authorization"] = f"Bearer {token}"
    case._has_explicit_auth = True  # as schemathesis.auths.apply_basic_auth does: the ignored_auth check then
    # sends the same request without it and with a wrong one, and expects a 401


def _use_known_values(case: Any, seeded: Seeded, draw: Any) -> None:
    """Often, replace a generated id with one that exists, so the fuzzer reaches past the 404s."""
    for container in ("path_parameters", "query"):
        values = dict(getattr(case, container) or {})
        changed = False
        for name in values:
            choices = seeded.known.get(name)
            if name == "terminalId" and case.path.endswith("/revoke"):
                choices = [VICTIM_TERMINAL]
            if choices and draw(st.booleans()):
                values[name] = draw(st.sampled_from(choices))
                changed = True
        if changed:
            setattr(case, container, values)
    if case.path.endswith("/enroll") and isinstance(case.body, dict) and draw(st.booleans()):
        case.body = {**case.body, "code": seeded.new_code()}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", list(OPERATIONS))
def test_fuzz_operation(seeded: Seeded, label: str, mode: GenerationMode) -> None:
    operation = OPERATIONS[label]
    if not _served(seeded.app, operation):
        pytest.skip(f"{label} is in openapi.yaml but not served yet")
    if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not operation.body:
        pytest.skip(f"{label} takes nothing that could be made invalid")
    checks = [check for check in CHECKS if check is not KNOWN_GAPS.get(label, (None,))[0]]
    app = seeded.app
    operation.schema.app = app  # the checks' own probes (ignored_auth) go to the app too

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def fuzz(case: Any, data: Any) -> None:
        _use_known_values(case, seeded, data.draw)
        _authorize(case, seeded, data.draw, app.config["WALLET_SETTINGS"])
        response = case.call(base_url=BASE_URL, app=app)
        case.validate_response(response, checks=checks, transport_kwargs={"app": app, "base_url": BASE_URL})
        _check_hardening(response)

    fuzz()


def _check_hardening(response: Any) -> None:
    """What every answer carries, whatever the request was (see api/security.py)."""
    headers = {name.lower(): value for name, value in response.headers.items()}  # values are lists
    assert headers.get("x-content-type-options") == ["nosniff"], headers
    text = response.content.decode("utf-8", "replace")  # exports may be binary (XLSX)
    for leak in ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "SELECT ", "INSERT INTO", 'File "/'):
        assert leak not in text, f"{leak!r} in a response body"


def test_every_served_route_is_in_the_contract(seeded: Seeded) -> None:
    """The fuzzer only knows what openapi.yaml documents: an undocumented route would go unfuzzed."""
    documented = {(op.method.upper(), re.sub(r"\{[^}]*\}", "{}", op.path)) for op in OPERATIONS.values()}
    missing = []
    for rule in seeded.app.url_map.iter_rules():
        if rule.rule.startswith("/console/"):
            continue  # the web console's HTML pages are not API (tests/console covers them)
        path = re.sub(r"<[^>]*>", "{}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, path) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"served but not in openapi.yaml: {missing}"
