"""Settings read from the environment, in one place, validated once at start.

Development defaults to an SQLite file under instance/ and demo keys made on first use; production
(`WALLET_ENV=production`) refuses to start without an explicit database URL and real keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """Configuration that cannot work; the message is one line meant for an operator."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = ""
    instance_path: Path = field(default_factory=lambda: Path("instance"))
    service_audience: str = "social-wallet-meal-ledger"
    signing_key_path: Path | None = None
    max_batch_events: int = 500
    terminal_token_max_lifetime_s: int = 600
    device_clock_tolerance_s: int = 900
    sql_echo: bool = False

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    environment = env.get("WALLET_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"WALLET_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    instance = Path(env.get("WALLET_INSTANCE_PATH", "instance")).resolve()
    database_url = env.get("WALLET_DATABASE_URL", "")
    if not database_url:
        if environment == "production":
            raise ConfigError("WALLET_DATABASE_URL is required in production")
        database_url = f"sqlite:///{instance / 'wallet.sqlite3'}"
    key_path = env.get("WALLET_SIGNING_KEY")
    if environment == "production" and not key_path:
        raise ConfigError("WALLET_SIGNING_KEY (an Ed25519 PEM file) is required in production")
    return Settings(
        environment=environment,
        database_url=database_url,
        instance_path=instance,
        service_audience=env.get("WALLET_AUDIENCE", Settings.service_audience),
        signing_key_path=Path(key_path) if key_path else None,
        max_batch_events=_int(env, "WALLET_MAX_BATCH_EVENTS", Settings.max_batch_events),
        terminal_token_max_lifetime_s=_int(env, "WALLET_TERMINAL_TOKEN_MAX_S", 600),
        device_clock_tolerance_s=_int(env, "WALLET_DEVICE_CLOCK_TOLERANCE_S", 900),
        sql_echo=_flag(env.get("WALLET_SQL_ECHO")),
    )
