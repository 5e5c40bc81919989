"""Read-only staff workloads (reconciliation, exports, meal sheets, the payment registry, the console's month
page) read one snapshot from the read replica when WALLET_READ_DATABASE_URL is set, and say how fresh it is.

The answer carries `X-Snapshot-Source` (`replica` or `primary`) and, from a replica, `X-Snapshot-Replayed-At`:
the commit time of the last transaction the replica had replayed before the snapshot was taken, so the
answer holds at least every transaction the primary committed up to then (openapi.yaml). A replica that
cannot be reached, or that has been promoted, is not waited for: the primary answers instead. Reads that
write the access log (parents, the console's parent preview) never come here: they stay on the primary.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api import session_scope
from wallet.db import make_session_factory
from wallet.ledger.verify import begin_snapshot

log = logging.getLogger(__name__)
SOURCE_HEADER = "X-Snapshot-Source"
REPLAYED_HEADER = "X-Snapshot-Replayed-At"


@dataclass(frozen=True)
class Snapshot:
    source: str  # "replica" or "primary"
    replayed_at: dt.datetime | None = None


def init_app(app: Flask, read_engine: Engine | None) -> None:
    app.extensions["wallet.read_engine"] = read_engine
    app.extensions["wallet.read_session_factory"] = make_session_factory(read_engine) if read_engine else None
    app.after_request(_stamp)
    app.teardown_appcontext(_close)


def _replica_state(engine: Engine) -> Snapshot | None:
    """The replica's replay time, read before the snapshot (so the snapshot holds at least that much);
    None when it cannot be reached or is no longer in recovery (promoted: it is a primary now)."""
    try:
        with engine.connect() as conn:
            in_recovery, replayed = conn.execute(
                text("SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()")).one()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        log.warning("read replica unavailable; reading from the primary: %s", reason)
        return None
    return Snapshot("replica", replayed) if in_recovery else None


def snapshot_session() -> Session:
    """This request's session for a consistent read: a snapshot on the replica when there is one."""
    if "wallet_snapshot_session" in g:
        return g.wallet_snapshot_session
    factory: sessionmaker[Session] | None = current_app.extensions["wallet.read_session_factory"]
    state = _replica_state(current_app.extensions["wallet.read_engine"]) if factory is not None else None
    if state is None or factory is None:
        session, state = session_scope.session(), Snapshot("primary")
        begin_snapshot(session)
    else:
        session = factory()
        g.wallet_replica_session = session
        begin(session)
    g.wallet_snapshot_session, g.wallet_snapshot = session, state
    return session


def begin(session: Session) -> None:
    """Begin one snapshot on a session of either engine (call before its first query)."""
    if session.get_bind() is current_app.extensions["wallet.read_engine"]:
        # Not begin_snapshot's read-only flag: a standby is read-only anyway, and resetting the flag when the
        # connection goes back to the pool (SET ... READ WRITE) is an error during recovery.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        begin_snapshot(session)


def stream_factory() -> Callable[[], Session]:
    """Sessions for a response streamed after the view returns, from where snapshot_session() read."""
    factory = current_app.extensions["wallet.read_session_factory"]
    if factory is not None and getattr(g, "wallet_snapshot", Snapshot("primary")).source == "replica":
        return factory
    return session_scope.factory()


def _stamp(response: Response) -> Response:
    state: Snapshot | None = g.get("wallet_snapshot")
    if state is not None:
        response.headers[SOURCE_HEADER] = state.source
        if state.replayed_at is not None:
            at = state.replayed_at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            response.headers[REPLAYED_HEADER] = at
    return response


def _close(_exc: BaseException | None) -> None:
    g.pop("wallet_snapshot_session", None)
    replica = g.pop("wallet_replica_session", None)
    if replica is not None:
        replica.close()
