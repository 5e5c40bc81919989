"""The scrape-time database gauges (api/metrics/database.py): terminals by silence, the outbox consumers'
hook, the cache that keeps scrapes from querying on every call, and a failed read that does not fail the scrape."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import event

from api.metrics import database
from api.metrics.database import SILENCE_BUCKETS, Backlog, DatabaseCollector, read_gauges
from tests.factories import TerminalKey
from tests.metrics.scrape import samples, total
from wallet.db import make_engine
from wallet.models import Terminal


def _scrape(collector: DatabaseCollector) -> dict:
    registry = CollectorRegistry()
    registry.register(collector)
    return samples(generate_latest(registry).decode())


def _figures(session, now):  # type: ignore[no-untyped-def]
    return {s.name + str(sorted(s.labels.items())): s.value for m in read_gauges(session, now) for s in m.samples}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_terminals_are_counted_by_how_long_they_have_been_silent(session_factory, world, seed):
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    ages: list[dt.timedelta | None] = []
    with session_factory() as session:
        for n in range(25):
            age = rng.choice([None, dt.timedelta(seconds=rng.uniform(0, 10 * 86400)),
                              *(limit + dt.timedelta(seconds=d) for _, limit in SILENCE_BUCKETS for d in (-1, 1))])
            terminal = TerminalKey(f"T-silence-{n}").register(session, world.school)
            terminal.last_contact_at = None if age is None else now - age
            terminal.status = "revoked" if n % 7 == 6 else "active"
            if terminal.status == "active":
                ages.append(age)
        session.commit()
        figures = _figures(session, now)
    assert figures["wallet_terminals_active[]"] == len(ages)
    assert figures["wallet_terminals_silent[('longer_than', 'never')]"] == sum(a is None for a in ages)
    for name, limit in SILENCE_BUCKETS:
        expected = sum(a is not None and a > limit for a in ages)
        assert figures[f"wallet_terminals_silent[('longer_than', '{name}')]"] == expected, name


def test_a_registered_outbox_consumer_reports_its_backlog_and_lag(session_factory, world):
    now = dt.datetime.now(dt.UTC)
    database.register_outbox_consumer("test-push", lambda _s: Backlog(7, now - dt.timedelta(seconds=90)))
    try:
        with session_factory() as session:
            figures = _figures(session, now)
    finally:
        del database._CONSUMERS["test-push"]
    assert figures["wallet_outbox_pending[('consumer', 'test-push')]"] == 7
    assert figures["wallet_outbox_delivery_lag_seconds[('consumer', 'test-push')]"] == pytest.approx(90)


def test_scrapes_within_the_cache_period_read_the_database_once(engine, world):
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    clock = [1000.0]
    collector = DatabaseCollector(engine, cache_s=15, clock=lambda: clock[0])
    first = _scrape(collector)
    reads = len(statements)
    assert reads > 0 and total(first, "wallet_metrics_database_up") == 1
    for _ in range(5):
        clock[0] += 2.9
        assert _scrape(collector) == first
    assert len(statements) == reads, "a scrape inside the cache period queried the database"
    with engine.begin() as connection:
        connection.execute(Terminal.__table__.insert(), {
            "id": "T-new", "school_id": world.school.id, "public_key": "k" * 43, "status": "active",
            "created_at": dt.datetime.now(dt.UTC)})
    statements.clear()
    clock[0] += 0.6  # 15 s after the first read
    fresh = _scrape(collector)
    assert len(statements) == reads
    assert total(fresh, "wallet_terminals_active") == total(first, "wallet_terminals_active") + 1


def test_a_failed_database_read_answers_down_instead_of_failing_the_scrape(tmp_path):
    gone = make_engine(f"sqlite:///{tmp_path}/no/such/folder/wallet.sqlite3")
    found = _scrape(DatabaseCollector(gone))
    assert total(found, "wallet_metrics_database_up") == 0
    assert "wallet_terminals_active" not in found


def test_findings_are_counted_by_rule_and_state(session_factory, world):
    from wallet.evidence.codes import RULES
    from wallet.models import Finding, FindingRuling

    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        made = []
        for n, (rule, outcome) in enumerate([("serving_rate", None), ("serving_rate", "upheld"),
                                             ("serving_rate", "dismissed"), ("cloned_device", None),
                                             ("absent_but_billed", None), ("absent_but_billed", None)]):
            finding = Finding(rule=rule, key=f"gauge:{n}", region_id=world.school.region_id,
                              school_id=world.school.id, serving_day=now.date(), billing_month=f"{now:%Y-%m}",
                              source="scan", evidence="{}", created_at=now)
            session.add(finding)
            made.append((finding, outcome))
        session.flush()
        for finding, outcome in made:
            if outcome:
                session.add(FindingRuling(finding_id=finding.id, outcome=outcome, reason="test", actor="auditor:t",
                                          at=now))
        session.commit()
        figures = _figures(session, now)
    def count(rule: str, state: str) -> float:
        return figures[f"wallet_findings[('rule', '{rule}'), ('state', '{state}')]"]
    assert [count("serving_rate", s) for s in ("open", "upheld", "dismissed")] == [1, 1, 1]
    assert count("cloned_device", "open") == 1 and count("absent_but_billed", "open") == 2
    assert count("two_schools_one_day", "open") == 0  # every rule and state is served, zeros too
    assert {k for k in figures if k.startswith("wallet_findings[")} == {
        f"wallet_findings[('rule', '{r}'), ('state', '{s}')]" for r in RULES for s in ("open", "upheld", "dismissed")}
