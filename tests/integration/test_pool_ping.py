"""Pooled PostgreSQL connections are pinged before use only after sitting idle (wallet.db.ping_when_idle): a
connection the server dropped meanwhile is replaced without the caller noticing; a busy one that died fails
its statement as a disconnect, after which the pool starts afresh."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import POSTGRES_URL
from wallet import db

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="WALLET_TEST_POSTGRES_URL is not set")


def _engine(monkeypatch: pytest.MonkeyPatch, idle_s: float) -> Engine:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", idle_s)
    return db.make_engine(POSTGRES_URL or "")


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(pid: int) -> None:
    admin = db.make_engine(POSTGRES_URL or "")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_busy_connection_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(monkeypatch, idle_s=60.0)
    pings: list[int] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or True)
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first  # the same pooled connection, handed out again at once
    assert pings == []
    engine.dispose()


def test_an_idle_connection_dropped_by_the_server_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(monkeypatch, idle_s=0.0)  # every checkout counts as "after idling"
    first = _backend_pid(engine)
    _kill(first)
    second = _backend_pid(engine)  # no error: the ping found the connection dead and the pool replaced it
    assert second != first
    engine.dispose()


def test_a_busy_connection_that_died_fails_once_then_the_pool_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(monkeypatch, idle_s=60.0)
    first = _backend_pid(engine)
    _kill(first)
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert caught.value.connection_invalidated
    assert _backend_pid(engine) != first
    engine.dispose()
