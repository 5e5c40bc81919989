"""Engines and sessions. Nothing here runs at import time: callers build an engine from Settings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, any_, bindparam, create_engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from wallet.config import ConfigError

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Foreign keys are off by default in SQLite; WAL lets readers work while a writer appends.
    # The driver's own BEGIN handling is switched off so that _sqlite_begin can take the write lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # BEGIN IMMEDIATE takes SQLite's write lock at the start, so two writers queue on busy_timeout
    # instead of both reading and then failing to upgrade to a write ("database is locked").
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False, one_sqlite_connection: bool = False) -> Engine:
    """An engine for a supported URL; raises ConfigError with one clear line otherwise.

    `one_sqlite_connection`: an SQLite engine keeps one connection, and others wait for it in the pool. For
    servers whose requests are coroutines in one thread (gunicorn's gevent workers): SQLite waits for its
    write lock inside C, which no other coroutine can interrupt, so a request waiting for a lock held by a
    coroutine of its own process would stall the process until busy_timeout; waiting in the pool yields."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL cannot be parsed: {url!r}") from exc
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise ConfigError(
            f"database URL scheme {parsed.drivername!r} is not supported; use sqlite:/// or postgresql+psycopg://"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if one_sqlite_connection else {}
            engine = create_engine(parsed, echo=echo, **pool)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(parsed, echo=echo, pool_size=10, max_overflow=10)
            ping_when_idle(engine)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"no database driver for {parsed.drivername!r}: {exc}") from exc
    return engine


# A pooled connection idle for longer than this is pinged before it is handed out; a busier one is not.
PING_AFTER_IDLE_S = 5.0


def ping_when_idle(engine: Engine, idle_s: float | None = None) -> None:
    """Check a pooled PostgreSQL connection before use only when it has been idle a while.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per request, a third of a parent's
    read (docs/benchmarks.md). A connection that served a request a moment ago is almost surely alive; one
    that sat idle may have been dropped (a database restart, a proxy's idle timeout). When a busy connection
    turns out dead anyway, its statement fails as a disconnect: SQLAlchemy then discards the whole pool and
    the request answers 503 `database_unavailable` with Retry-After, which clients retry; no data are half
    written, because nothing was.
    """

    def stamp(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["wallet_idle_since"] = time.monotonic()

    def ping(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = record.info.get("wallet_idle_since")
        limit = PING_AFTER_IDLE_S if idle_s is None else idle_s
        if since is not None and time.monotonic() - since < limit:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the pooled connection did not answer a ping")

    event.listen(engine, "connect", stamp)
    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", ping)


class DatabaseUnreachable(ConfigError):
    """The database did not answer: a wrong URL at a first start, or a passing fault (a restart, a full
    connection table) for a server already serving. Callers that can tell the two apart catch this one."""


def check_connection(engine: Engine) -> None:
    """Fail with one clear line (DatabaseUnreachable) when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnreachable(f"database unreachable at {where}: {reason}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit when the block ends normally, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def autocommitting(conn: Connection) -> bool:
    """Whether statements on this connection commit by themselves (see read_only)."""
    return bool(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


def read_only(session: Session) -> None:
    """Run this request's reads without a transaction on PostgreSQL (autocommit: no BEGIN and COMMIT round
    trips; each statement sees committed data). Call before the first statement; SQLite is left as it is."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def one_of(session: Session, column: InstrumentedAttribute[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter whatever the count.

    A batch looks up ~100 ids at a time: an expanded IN list makes a different, long SQL text for every list
    size, which psycopg parses again each time (statements over 4 KB are not cached) and PostgreSQL plans
    again each time; the array form is one short statement that is parsed once and prepared.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)
