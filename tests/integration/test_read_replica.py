"""The read replica (api/read_replica.py) with a real streaming standby made by the test: a primary of its
own (initdb), a standby by pg_basebackup in a temporary folder on its own port. Reconciliation, its export,
the entries' export and the meal sheet read from the standby equal the primary's and say the snapshot's
replay time (the console's month page reads through the same module); a standby that is down leaves the
primary to answer; parents' reads, which write the access log, stay on the primary."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select

from api import create_app
from tests import pg_servers
from tests.factories import an_iin
from tests.parent_factories import Parent, link, staff_headers
from tests.reconciliation_world import Scenario, build_scenario
from wallet import migrate
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.models import ChildAccessLog


@dataclass
class Pair:
    primary: pg_servers.Server
    standby: pg_servers.Server
    primary_engine: Engine
    standby_engine: Engine
    scenario: Scenario
    settings: Settings


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    why = pg_servers.available()
    if why:
        pytest.skip(why)
    primary = pg_servers.make_primary()
    standby = None
    engines: list[Engine] = []
    try:
        primary.sql("CREATE DATABASE wallet")
        primary_engine = make_engine(primary.url("wallet"))
        engines.append(primary_engine)
        migrate.upgrade(primary_engine)
        factory = make_session_factory(primary_engine)
        scenario = build_scenario(factory)
        standby = pg_servers.make_standby(primary, "replica1")
        # Written after the base backup: on the standby only by streaming.
        scenario.recorder.meal(scenario.world.eligible[3], _at(scenario, 4), received_at=_at(scenario, 4, 15))
        pg_servers.wait_replayed(primary, standby)
        standby_engine = make_engine(standby.url("wallet"))
        engines.append(standby_engine)
        instance = tmp_path_factory.mktemp("replica-instance")
        settings = Settings(environment="test", database_url=primary.url("wallet"), instance_path=instance)
        yield Pair(primary, standby, primary_engine, standby_engine, scenario, settings)
    finally:
        for engine in engines:
            engine.dispose()
        if standby is not None:
            standby.remove()
        primary.remove()


def _at(scenario: Scenario, day_index: int, hour: int = 12) -> dt.datetime:
    from tests.reconciliation_world import local

    return local(scenario.serving[day_index], hour)


def _apps(pair: Pair):  # type: ignore[no-untyped-def]
    plain = create_app(pair.settings, engine=pair.primary_engine)
    replicated = create_app(pair.settings, engine=pair.primary_engine, read_engine=pair.standby_engine)
    return plain.test_client(), replicated.test_client()


PATHS = [
    "/api/v1/auditor/reconciliations?month={month}",
    "/api/v1/auditor/reconciliations/export?month={month}&format=csv",
    "/api/v1/auditor/entries/export?month={month}&format=json",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_reconciliation_from_the_replica_equals_the_primarys(pair, path):
    primary, replica = _apps(pair)
    headers = staff_headers(pair.settings, "operator")
    url = path.format(month=pair.scenario.month)
    on_primary, on_replica = primary.get(url, headers=headers), replica.get(url, headers=headers)
    assert on_primary.status_code == on_replica.status_code == 200, on_replica.get_data(as_text=True)[:500]
    assert on_primary.headers["X-Snapshot-Source"] == "primary" and "X-Snapshot-Replayed-At" not in on_primary.headers
    assert on_replica.headers["X-Snapshot-Source"] == "replica"
    replayed = dt.datetime.fromisoformat(on_replica.headers["X-Snapshot-Replayed-At"])
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - replayed < dt.timedelta(minutes=10)
    if path.startswith("/api/v1/auditor/reconciliations?"):
        body = _json_without_generated_at(on_replica)
        assert body == _json_without_generated_at(on_primary)
        assert body["totals"]["meals"] > 0
    else:
        # Files name their generation time; everything else is the same bytes.
        assert _without_generated_at(on_replica.get_data()) == _without_generated_at(on_primary.get_data())


def _json_without_generated_at(response) -> dict:  # type: ignore[no-untyped-def]
    """The body less its generation time: two requests may fall in different seconds."""
    body = response.get_json()
    body.pop("generatedAt", None)
    return body


def _without_generated_at(data: bytes) -> str:
    text = data.decode("utf-8")
    assert len(text) > 500  # a file with rows, not an empty one
    return re.sub(r'(generatedAt|generated_at)(["\',: ]+)[0-9T:.+\-Z]+', r"\1\2", text)


def test_the_meal_sheet_from_the_replica_equals_the_primarys(pair):
    primary, replica = _apps(pair)
    headers = staff_headers(pair.settings, "operator")
    url = f"/api/v1/auditor/meal-sheets?month={pair.scenario.month}&school={pair.scenario.world.school.bin}"
    on_primary, on_replica = primary.get(url, headers=headers), replica.get(url, headers=headers)
    assert on_replica.status_code == 200 and on_replica.headers["X-Snapshot-Source"] == "replica"
    assert _json_without_generated_at(on_replica) == _json_without_generated_at(on_primary)


def test_a_standby_that_is_down_leaves_the_primary_to_answer(pair):
    primary, _ = _apps(pair)
    dead = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{pg_servers.free_port()}/wallet")
    try:
        app = create_app(pair.settings, engine=pair.primary_engine, read_engine=dead)
        headers = staff_headers(pair.settings, "operator")
        url = f"/api/v1/auditor/reconciliations?month={pair.scenario.month}"
        answer = app.test_client().get(url, headers=headers)
        assert answer.status_code == 200 and answer.headers["X-Snapshot-Source"] == "primary"
        assert _json_without_generated_at(answer) == _json_without_generated_at(primary.get(url, headers=headers))
    finally:
        dead.dispose()


def test_parents_reads_stay_on_the_primary_and_write_its_access_log(pair):
    _, replica = _apps(pair)
    child = pair.scenario.world.eligible[0]
    factory = make_session_factory(pair.primary_engine)
    iin = an_iin(dt.date(1990, 1, 1))
    with factory() as session:
        link(session, iin, child)
        before = session.scalar(select(func.count()).select_from(ChildAccessLog))
    parent = Parent(iin, child, pair.settings)
    answer = replica.get("/api/v1/parent/children", headers=parent.headers())
    assert answer.status_code == 200 and "X-Snapshot-Source" not in answer.headers
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ChildAccessLog)) == before + 1
