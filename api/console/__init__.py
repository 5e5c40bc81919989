"""The web console: server-rendered pages for schools, auditors, the ledger and a parent preview, served by the
same app under /console. Views are thin (parse -> wallet service -> template); see docs/decisions.md.

`init_app` refuses to start the console in production without WALLET_SECRET_KEY (the key that signs its
session cookie); development and tests use a random key kept in the instance folder, so every worker of
one server signs alike.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path

from flask import Flask

from api.console import (  # noqa: F401 (routes)
    views_audit,
    views_auth,
    views_findings,
    views_ledger,
    views_parent,
    views_school,
)
from api.console.blueprint import blueprint
from wallet.config import MIN_SECRET_KEY_CHARS, ConfigError, Settings

DEV_SECRET_FILENAME = "console-secret-key"  # noqa: S105 (a file name, not a secret)


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.console_enabled:
        return
    app.secret_key = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME="wallet_console", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.is_production, SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=settings.console_session_s),
    )
    app.register_blueprint(blueprint)
    if settings.dev_idp_enabled:
        app.add_url_rule("/console/dev-sign-in", "console.dev_sign_in", views_auth.dev_sign_in,
                         methods=["GET", "POST"])


def secret_key(settings: Settings) -> str:
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_KEY_CHARS:
            raise ConfigError(f"WALLET_SECRET_KEY must hold at least {MIN_SECRET_KEY_CHARS} characters")
        return settings.secret_key
    if settings.is_production:
        raise ConfigError("WALLET_SECRET_KEY is required in production for the web console "
                          "(or switch the console off with WALLET_CONSOLE=off)")
    return _development_secret(Path(settings.instance_path) / DEV_SECRET_FILENAME)


def _development_secret(path: Path) -> str:
    """A random key made on first use (0600); concurrent first uses end with one key (O_EXCL)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    for _ in range(50):
        value = path.read_text().strip()
        if len(value) >= MIN_SECRET_KEY_CHARS:
            return value
        time.sleep(0.01)  # another process is still writing it
    raise ConfigError(f"the console's development secret {path} is unusable")
