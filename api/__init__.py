"""Flask application factory. Nothing is created at import time: call create_app()."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import (
    admin,
    auditor_ledger,
    auditors,
    complaints,
    console,
    errors,
    findings,
    health,
    i18n,
    metrics,
    open_data,
    parent_notifications,
    parents,
    qr,
    ratelimit,
    read_replica,
    reconciliation,
    reports,
    request_log,
    security,
    session_scope,
    terminals,
    vouchers,
)
from api.auth import idp
from wallet.config import Settings, settings_from_env
from wallet.db import make_engine, make_session_factory


def create_app(
    config: Settings | Mapping[str, str] | None = None,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    read_engine: Engine | None = None,
) -> Flask:
    """Build the app from Settings, an environment-like mapping, or the process environment.

    `engine` and `session_factory` may be injected (tests share one engine across apps); `read_engine` is the
    read replica's (WALLET_READ_DATABASE_URL), for the staff's read-only workloads (api/read_replica.py).
    """
    settings = config if isinstance(config, Settings) else settings_from_env(config)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()), static_folder=None)
    app.config["WALLET_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    engine = engine or make_engine(settings.database_url, echo=settings.sql_echo)
    session_scope.init_app(app, engine, session_factory or make_session_factory(engine))
    if read_engine is None and settings.read_database_url:
        read_engine = make_engine(settings.read_database_url, echo=settings.sql_echo)
    read_replica.init_app(app, read_engine)
    i18n.init_app(app)  # Flask-Babel over the gettext catalogs (wallet/translations)
    errors.init_app(app)
    request_log.init_app(app, settings)  # first: its id and timing cover every other hook
    # Rate limits look first (cheapest), then body size and JSON depth, all before any view runs.
    ratelimit.init_app(app, settings)
    security.init_app(app, settings)
    idp.init_app(app, settings)
    for blueprint in (health.blueprint, terminals.blueprint, admin.blueprint, auditor_ledger.blueprint,
                      parents.blueprint, parent_notifications.blueprint, qr.blueprint, auditors.blueprint,
                      reconciliation.blueprint, reports.blueprint, complaints.parent_blueprint,
                      complaints.staff_blueprint, open_data.blueprint, *vouchers.BLUEPRINTS,
                      *findings.BLUEPRINTS):
        app.register_blueprint(blueprint)
    console.init_app(app, settings)  # the web console (api/console): HTML pages under /console
    metrics.init_app(app, settings)  # /metrics and its hooks, when WALLET_METRICS_TOKEN is set
    return app
