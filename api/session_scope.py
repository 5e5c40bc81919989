"""One SQLAlchemy session per request, from the factory given to create_app.

Views never commit: services in wallet/ own the transaction boundary. Whatever a service did not commit
is rolled back when the request ends.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


def init_app(app: Flask, engine: Engine, factory: sessionmaker[Session]) -> None:
    app.extensions["wallet.engine"] = engine
    app.extensions["wallet.session_factory"] = factory
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["wallet.engine"]


def factory() -> sessionmaker[Session]:
    """The session factory, for a service that must commit in a transaction of its own."""
    return current_app.extensions["wallet.session_factory"]


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["wallet.session_factory"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()  # rolls back whatever was not committed, and returns the connection to the pool
