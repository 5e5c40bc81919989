"""Hot read-only statements sent straight through psycopg, as server-side prepared statements.

A parent's `meals/today` is one statement (wallet.parents.today); through an ORM session and SQLAlchemy's
execution context (session and connection set-up, the compiled cache's lookup, parameter and result
processing, the Row objects) it cost about as much Python as everything else in the request
(docs/benchmarks.md, issue 22). Here the Core statement is compiled once to the driver's SQL and run on a
pooled DB-API connection in autocommit (a data-modifying CTE commits with its statement: one round trip),
with psycopg's `prepare=True` (the server plans it once per connection). The SQL is turned into
PostgreSQL's own `$1` placeholders once and sent by a RawCursor: psycopg re-parses `%(name)s` queries of more
than 4 KB on every execution (it caches only shorter ones), and that was 0.5 ms of CPU a today read.

The pool is the engine's, so its checkout events (wallet.db.ping_when_idle) still run. Driver errors are
raised as SQLAlchemy's DBAPIError (a lost connection invalidated), so the app's error handler answers them
as it answers any other (503 `database_unavailable`).

Only for statements whose parameters need no bind processing and whose columns need no result processing
(UUIDs, text, numbers, dates, timestamptz, booleans, JSON): the caller passes driver-ready values (aware
datetimes, uuid.UUID). PostgreSQL with psycopg only; `supported` says whether an engine is one, and the
callers keep the same statement through Core for SQLite.
"""

from __future__ import annotations

import re
from typing import Any

from psycopg import RawCursor
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


class Compiled:
    """A statement's SQL with `$n` placeholders, the parameter name of each, and the values of those the
    statement carries itself (a function's constant arguments: set_config's)."""

    def __init__(self, pyformat_sql: str, own: dict[str, Any]) -> None:
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.sql = _PYFORMAT.sub(number, pyformat_sql).encode()
        self.own = own

    def values(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.own[name] for name in self.names]


class PreparedRead:
    """A Core statement compiled once (per dialect) for the driver."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[int, Compiled] = {}

    def compiled(self, engine: Engine) -> Compiled:
        key = id(engine.dialect)
        found = self._compiled.get(key)
        if found is None:
            compiled = self._statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
            if compiled.positiontup is not None:
                raise ValueError("expected psycopg's named parameters")
            own = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
            found = self._compiled[key] = Compiled(compiled.string, own)
        return found


def run_prepared(engine: Engine, reads: list[tuple[PreparedRead, dict[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    """Run each (statement, parameters) on one pooled connection in autocommit; the rows of each."""
    raw = engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    sql = b""
    try:
        driver.autocommit = True
        out = []
        with RawCursor(driver) as cursor:
            for read, params in reads:
                compiled = read.compiled(engine)
                sql = compiled.sql
                cursor.execute(sql, compiled.values(params), prepare=True)
                out.append(cursor.fetchall())
        driver.autocommit = False
        return out
    except engine.dialect.loaded_dbapi.Error as exc:
        lost = engine.dialect.is_disconnect(exc, raw.dbapi_connection, None)
        if lost:
            raw.invalidate(exc)
        else:
            try:
                driver.autocommit = False
            except engine.dialect.loaded_dbapi.Error:
                raw.invalidate(exc)
        raise DBAPIError.instance(sql.decode(), None, exc, engine.dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=engine.dialect) from exc
    finally:
        raw.close()  # back to the pool (its reset is a no-op: no transaction is open)
