"""Concurrency of terminal ingest: many clients, same events -> one row each; many appenders -> no fork.

The in-process tests run `record_batch` from real threads, each with its own Session, released together by
a Barrier. The HTTP test does the same through a real gunicorn server (a subprocess on a free loopback
port) against the test's own PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import TerminalKey, World, batch, meal_event, uuid7
from wallet.ingest import Batch, EventOutcome, MealEvent, record_batch
from wallet.ledger.append import lock_chain_head
from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.merkle import CompactRange, leaf_hash
from wallet.models import ChainHead, LedgerEntry, Terminal

CLIENTS = 50
EVENTS = 20
TOLERANCE = dt.timedelta(seconds=900)
WAIT_S = 60  # upper bound for any one wait in these tests; a hang fails instead of blocking the suite
ROOT = Path(__file__).resolve().parents[2]
MEAL_TYPES = ("breakfast", "lunch", "snack")

postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


# --- helpers ---------------------------------------------------------------------------------------------


def run_together(count: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run work(i, barrier) in `count` threads; each calls barrier.wait() just before the racing call.
    Returns the results in thread order; re-raises the first exception a thread raised."""
    barrier = threading.Barrier(count, timeout=WAIT_S)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            results[i] = work(i, barrier)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2 * WAIT_S
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads still running after the deadline"
    if errors:
        raise errors[0]
    return results


def new_session(session_factory: sessionmaker[Session], terminal_id: str) -> tuple[Session, Terminal]:
    """A session of its own with the terminal loaded; the connection goes back to the pool until used."""
    session = session_factory()
    terminal = session.get(Terminal, terminal_id)
    assert terminal is not None
    session.commit()  # releases the connection; expire_on_commit=False keeps the terminal loaded
    return session, terminal


def meal_events(world: World, count: int, *, first_seq: int = 1) -> list[MealEvent]:
    """Billable meals, then second meals of a type (not billable), then a pupil who is not eligible."""
    now = dt.datetime.now(dt.UTC)
    events = []
    for i in range(count):
        student = world.eligible[i % len(world.eligible)] if i % 7 != 6 else world.not_eligible
        assert student is not None
        events.append(MealEvent(
            index=i, event_id=uuid7(now), device_seq=first_seq + i, student_ref=str(student.id),
            meal_type=MEAL_TYPES[(i // len(world.eligible)) % 3], served_at=now - dt.timedelta(seconds=i),
            method="roster",
        ))
    return events


def new_batch(terminal_id: str, events: list[MealEvent]) -> Batch:
    now = dt.datetime.now(dt.UTC)
    return Batch(terminal_id=terminal_id, sent_at=now, received_at=now, events=events)


def outcome_view(outcome: EventOutcome) -> dict[str, Any]:
    entry = outcome.entry
    assert entry is not None, outcome
    return {"index": outcome.index, "eventId": outcome.event_id, "status": outcome.status, "entryId": entry.id,
            "position": entry.position, "leafHash": entry.leaf_hash.hex(), "chainHash": entry.chain_hash.hex(),
            "verdict": entry.verdict, "reasons": entry.reasons, "priceTiyn": entry.price_tiyn}


def assert_identical_results(per_client: list[list[dict[str, Any]]], events: int) -> None:
    """Every client saw the same result for each event; exactly one of them saw it `recorded`."""
    for index in range(events):
        seen = [results[index] for results in per_client]
        statuses = [r["status"] for r in seen]
        assert statuses.count("recorded") == 1, (index, statuses)
        assert statuses.count("replayed") == len(seen) - 1, (index, statuses)
        without_status = [{k: v for k, v in r.items() if k != "status"} for r in seen]
        assert all(r == without_status[0] for r in without_status), index
        assert without_status[0]["index"] == index


def assert_chain_intact(session: Session, school_id: int) -> list[LedgerEntry]:
    """Positions 1..N, each leaf hash from its payload, each chain hash from the one before, head agrees."""
    entries = list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.school_id == school_id).order_by(LedgerEntry.position)
    ))
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    chain = GENESIS_CHAIN_HASH
    for entry in entries:
        assert entry.leaf_hash == leaf_hash(entry.payload.encode()), entry.position
        chain = next_chain_hash(chain, entry.leaf_hash)
        assert entry.chain_hash == chain, f"chain forks at position {entry.position}"
    head = session.get(ChainHead, school_id)
    if entries:
        assert head is not None
        assert head.size == len(entries) and head.chain_hash == chain
        assert CompactRange.from_bytes(head.frontier) == CompactRange.from_leaf_hashes(
            [e.leaf_hash for e in entries])
    return entries


def event_count(session: Session, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(LedgerEntry.event_id, func.count()).where(LedgerEntry.event_id.in_(event_ids))
        .group_by(LedgerEntry.event_id)
    )
    return {event_id: n for event_id, n in rows}


# --- the same batch from 50 clients at once ---------------------------------------------------------------


def test_fifty_clients_sending_the_same_batch_store_each_event_once(session_factory, world, terminal_key):
    events = meal_events(world, EVENTS)

    def client(_i: int, barrier: threading.Barrier) -> list[dict[str, Any]]:
        session, terminal = new_session(session_factory, terminal_key.terminal_id)
        try:
            barrier.wait()
            outcomes = record_batch(session, terminal, new_batch(terminal.id, events), clock_tolerance=TOLERANCE)
            return [outcome_view(o) for o in outcomes]
        finally:
            session.close()

    per_client = run_together(CLIENTS, client)

    assert_identical_results(per_client, EVENTS)
    with session_factory() as session:
        entries = assert_chain_intact(session, world.school.id)
        assert len(entries) == EVENTS
        assert event_count(session, [e.event_id for e in events]) == {e.event_id: 1 for e in events}
    first = per_client[0]
    assert sorted(r["position"] for r in first) == list(range(1, EVENTS + 1))
    assert {r["verdict"] for r in first} == {"billable", "not_billable"}


@contextlib.contextmanager
def gunicorn_server(database_url: str, instance: Path, *, workers: int = 2) -> Iterator[str]:
    """A real gunicorn with the production settings (api/gunicorn_conf.py: gevent workers) on a free loopback
    port; yields its base URL. Every client's request is in flight at once, on two workers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test",
           "WALLET_INSTANCE_PATH": str(instance)}
    log = (instance / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--graceful-timeout", "3", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (instance / "gunicorn.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "gunicorn did not become ready in 30 s"
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


@pytest.mark.postgres
@postgres_only
def test_fifty_http_clients_sending_the_same_batch_store_each_event_once(
    database_url, session_factory, world, terminal_key, tmp_path
):
    served = dt.datetime.now(dt.UTC)
    body = batch(*[
        meal_event(world.eligible[i % len(world.eligible)] if i % 7 != 6 else world.not_eligible, i + 1,
                   meal_type=MEAL_TYPES[(i // len(world.eligible)) % 3],
                   served_at=served - dt.timedelta(seconds=i))
        for i in range(EVENTS)
    ])

    with gunicorn_server(database_url, tmp_path) as url:
        def client(_i: int, barrier: threading.Barrier) -> list[dict[str, Any]]:
            headers = terminal_key.headers()  # a fresh token (own jti) per request, as terminals do
            barrier.wait()
            response = requests.post(f"{url}/api/v1/terminal/events", json=body, headers=headers, timeout=WAIT_S)
            assert response.status_code == 200, response.text
            document = response.json()
            assert document["summary"]["invalid"] == document["summary"]["conflict"] == 0
            return document["results"]

        per_client = run_together(CLIENTS, client)

    assert_identical_results(per_client, EVENTS)
    with session_factory() as session:
        entries = assert_chain_intact(session, world.school.id)
        assert len(entries) == EVENTS
        ids = [uuid.UUID(e["eventId"]) for e in body["events"]]
        assert event_count(session, ids) == dict.fromkeys(ids, 1)
    assert sorted(r["position"] for r in per_client[0]) == list(range(1, EVENTS + 1))


# --- two terminals of one school, many threads, different events ------------------------------------------


def test_two_terminals_of_one_school_appending_at_once_make_one_unforked_chain(
    session_factory, world, terminal_key
):
    second = TerminalKey("T-test-2")
    with session_factory() as session:
        second.register(session, world.school)
    threads_per_terminal, batches, size = 6, 4, 10
    plan = [(key.terminal_id, n) for key in (terminal_key, second) for n in range(threads_per_terminal)]

    def appender(i: int, barrier: threading.Barrier) -> list[dict[str, Any]]:
        terminal_id, n = plan[i]
        session, terminal = new_session(session_factory, terminal_id)
        seen: list[dict[str, Any]] = []
        try:
            barrier.wait()
            for b in range(batches):
                # Each thread owns its own run of deviceSeq values, so no event conflicts with another.
                events = meal_events(world, size, first_seq=1 + (n * batches + b) * size)
                outcomes = record_batch(session, terminal, new_batch(terminal_id, events),
                                        clock_tolerance=TOLERANCE)
                assert [o.status for o in outcomes] == ["recorded"] * size
                seen.extend(outcome_view(o) for o in outcomes)
            return seen
        finally:
            session.close()

    per_thread = run_together(len(plan), appender)

    total = len(plan) * batches * size
    returned = sorted(r["position"] for results in per_thread for r in results)
    assert returned == list(range(1, total + 1)), "positions handed out twice or skipped"
    with session_factory() as session:
        entries = assert_chain_intact(session, world.school.id)
        assert len(entries) == total
        stored = {e.id: (e.position, e.chain_hash.hex()) for e in entries}
        for results in per_thread:
            for r in results:
                assert stored[r["entryId"]] == (r["position"], r["chainHash"])
        assert {e.terminal_id for e in entries} == {terminal_key.terminal_id, second.terminal_id}
        # Each pupil's meal of a type is billed once however the batches interleaved.
        billable = [(e.student_id, e.serving_day, e.meal_type) for e in entries if e.verdict == "billable"]
        eligible = {str(s.id) for s in world.eligible}
        meals = {(e.student_ref, e.meal_type) for e in meal_events(world, size) if e.student_ref in eligible}
        assert len(billable) == len(set(billable)) == len(meals)


# --- two schools append in parallel -----------------------------------------------------------------------


def test_two_schools_append_in_parallel_and_both_chains_are_intact(session_factory, world, terminal_key):
    other = TerminalKey("T-other-1")
    with session_factory() as session:
        other.register(session, world.other_school)
    threads_per_school, batches, size = 4, 3, 10
    plan = [(key.terminal_id, n) for key in (terminal_key, other) for n in range(threads_per_school)]

    def appender(i: int, barrier: threading.Barrier) -> int:
        terminal_id, n = plan[i]
        session, terminal = new_session(session_factory, terminal_id)
        try:
            barrier.wait()
            for b in range(batches):
                events = meal_events(world, size, first_seq=1 + (n * batches + b) * size)
                outcomes = record_batch(session, terminal, new_batch(terminal_id, events),
                                        clock_tolerance=TOLERANCE)
                assert [o.status for o in outcomes] == ["recorded"] * size
            return batches * size
        finally:
            session.close()

    run_together(len(plan), appender)

    with session_factory() as session:
        for school in (world.school, world.other_school):
            entries = assert_chain_intact(session, school.id)
            assert len(entries) == threads_per_school * batches * size
            assert {e.school_id for e in entries} == {school.id}


@pytest.mark.postgres
@postgres_only
def test_a_school_appends_while_another_schools_chain_is_locked(session_factory, world, terminal_key):
    """Appends serialise per school only: with school A's chain head locked, school B appends at once."""
    other = TerminalKey("T-other-1")
    with session_factory() as session:
        other.register(session, world.other_school)
    holder = session_factory()
    lock_chain_head(holder, world.school.id)  # held until holder's transaction ends
    done = threading.Event()
    failure: list[BaseException] = []

    def append_other() -> None:
        session, terminal = new_session(session_factory, other.terminal_id)
        try:
            outcomes = record_batch(session, terminal, new_batch(terminal.id, meal_events(world, 5)),
                                    clock_tolerance=TOLERANCE)
            assert [o.status for o in outcomes] == ["recorded"] * 5
            done.set()
        except BaseException as exc:
            failure.append(exc)
        finally:
            session.close()

    thread = threading.Thread(target=append_other, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        finished = done.wait(timeout=10)
    finally:
        holder.rollback()
        holder.close()
        thread.join(timeout=WAIT_S)
    assert not failure, failure
    assert finished, "school B waited for school A's lock"
    assert time.monotonic() - started < 10
    with session_factory() as session:
        assert len(assert_chain_intact(session, world.other_school.id)) == 5
        assert assert_chain_intact(session, world.school.id) == []
