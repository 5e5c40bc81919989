"""A primary failover with a synchronous standby, small enough for CI (the full drill with gunicorn and a
lunch rush of terminals is tests/bench/failover_drill.py): a primary and a synchronous standby of the test's
own, the service connected through a multi-host URL with target_session_attrs=read-write, a terminal
posting batches; the primary is killed (kill -9) between batches and the standby promoted. The terminal
gets 503 with Retry-After (never a 500) until the service reaches the new primary, then goes on; every event
the service acknowledged is in the promoted server's ledger exactly once and the chain verifies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text

from api import create_app
from tests import pg_servers
from tests.factories import TerminalKey, batch, make_world, meal_event
from wallet import migrate
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.verify import verify_all
from wallet.models import LedgerEntry

BATCHES, EVENTS, KILL_AFTER = 8, 6, 3


def multi_host_url(servers: list[pg_servers.Server], database: str) -> str:
    hosts = "&".join(f"host={s.libpq_host()}" for s in servers)
    return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write&connect_timeout=2"


@pytest.fixture
def pair() -> Iterator[tuple[pg_servers.Server, pg_servers.Server]]:
    why = pg_servers.available()
    if why:
        pytest.skip(why)
    primary = pg_servers.make_primary(sync_standby="standby1")
    standby = None
    try:
        standby = pg_servers.make_standby(primary, "standby1")
        pg_servers.wait_streaming(primary, "standby1", sync=True)
        assert primary.sql("SELECT sync_state FROM pg_stat_replication") == "sync"
        primary.sql("CREATE DATABASE wallet")
        yield primary, standby
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()


def test_a_killed_primary_loses_no_acknowledged_meal(pair, tmp_path):
    primary, standby = pair
    url = multi_host_url([primary, standby], "wallet")
    engine: Engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        key = TerminalKey("T-failover-1")
        with factory() as session:
            world = make_world(session, pupils=EVENTS)
            key.register(session, world.school)
        settings = Settings(environment="test", database_url=url, instance_path=tmp_path / "instance")
        client = create_app(settings, engine=engine).test_client()
        acknowledged: set[str] = set()
        statuses: Counter[int] = Counter()
        seq = 0
        for n in range(BATCHES):
            if n == KILL_AFTER:
                primary.kill()
                standby.promote()
            events = [meal_event(world.eligible[i % len(world.eligible)], seq + i + 1) for i in range(EVENTS)]
            seq += EVENTS
            for _attempt in range(100):  # the same batch again until it is acknowledged, as the agent does
                answer = client.post("/api/v1/terminal/events", json=batch(*events), headers=key.headers())
                statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    results = answer.get_json()["results"]
                    assert {r["status"] for r in results} <= {"recorded", "replayed"}, results
                    acknowledged |= {r["eventId"] for r in results}
                    break
                assert answer.status_code == 503 and answer.headers.get("Retry-After"), answer.get_data()
            else:
                pytest.fail(f"batch {n} was never acknowledged: {dict(statuses)}")
        # Usually the first request after the kill meets a dead pooled connection and answers 503; when that
        # connection sat idle long enough to be pinged first (wallet.db.ping_when_idle), the pool reconnects
        # at once and no request fails. Either way the service now writes to the promoted standby:
        assert standby.sql("SELECT pg_is_in_recovery()") is False
        with factory() as session:
            assert session.scalar(text("SELECT inet_server_port()")) == standby.port
            stored = [str(e) for e in session.scalars(select(LedgerEntry.event_id))]
            assert session.scalar(select(func.count()).select_from(LedgerEntry)) == BATCHES * EVENTS
        assert len(acknowledged) == BATCHES * EVENTS
        assert set(stored) == acknowledged and len(stored) == len(set(stored))  # none lost, none twice
        reports = verify_all(factory, public_keys_of(load_signing_key(settings)))
        assert reports and all(r.ok for r in reports), [r.describe() for r in reports]
    finally:
        engine.dispose()
