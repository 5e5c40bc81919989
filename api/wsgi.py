"""Entry point for gunicorn: `gunicorn 'api.wsgi:build()'`.

Checks the configuration and the database before serving, and fails with one clear line (not a
traceback) when either is wrong; gunicorn then stops instead of restarting workers forever. A database that
does not answer a worker booting after another one did is a passing fault, not a wrong configuration: that
worker retries, then leaves it to the master to start another (api/worker_boot.py), and the server goes on.
"""

from __future__ import annotations

import sys

from flask import Flask

from api import create_app
from api.worker_boot import wait_for_database
from wallet.config import ConfigError, settings_from_env
from wallet.db import check_connection, make_engine
from wallet.keys import load_public_key_file, load_qr_signing_key

# gunicorn treats this worker exit status as "the application cannot load" and halts the whole server.
APP_LOAD_ERROR = 4


def _cooperative() -> bool:
    """Whether this worker runs requests as gevent coroutines (api/gunicorn_conf.py), which SQLite must know."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("socket"))


def build() -> Flask:
    try:
        settings = settings_from_env()
        # The QR keys are read once here too, so that a bad key file stops the start, not a parent's request.
        load_qr_signing_key(settings)
        for path in settings.qr_public_key_paths:
            load_public_key_file(path)
        engine = make_engine(settings.database_url, echo=settings.sql_echo, one_sqlite_connection=_cooperative())
        wait_for_database(lambda: check_connection(engine))  # raises only at a first start
        return create_app(settings, engine=engine)  # may refuse too (the console's secret key in production)
    except ConfigError as exc:
        print(f"wallet: configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(APP_LOAD_ERROR)
