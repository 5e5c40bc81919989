"""The push worker's settings, read from the environment and checked once at its start.

Only `wallet notify-worker` reads them (the API never pushes), so a service without a gateway needs none
of them. There is no default URL and no default secret, in any environment: the worker refuses to start
without both.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from wallet.config import ConfigError
from wallet.parents.push import PushPolicy

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
# The Standard Webhooks specification: secrets of 24 to 64 random bytes.
SECRET_BYTES = (24, 64)


@dataclass(frozen=True)
class PushSettings:
    url: str
    secret: str  # "whsec_" + base64 of the key, as the Standard Webhooks libraries take it
    policy: PushPolicy
    timeout_s: float = 10.0
    poll_s: float = 2.0

    def __repr__(self) -> str:  # never the secret in a log or a traceback
        return f"PushSettings(url={self.url!r}, policy={self.policy!r}, timeout_s={self.timeout_s})"


def push_settings_from_env(env: Mapping[str, str], *, production: bool) -> PushSettings:
    url = check_push_url(env.get("WALLET_PUSH_URL", ""), production=production)
    secret = read_push_secret(env.get("WALLET_PUSH_SECRET_FILE", ""))
    defaults = PushPolicy()
    namespace = env.get("WALLET_PUSH_NAMESPACE", defaults.namespace)
    if not namespace or not all(c.isalnum() or c in "-." for c in namespace) or len(namespace) > 40:
        raise ConfigError(f"WALLET_PUSH_NAMESPACE must be 1-40 letters, digits, '-' or '.', got {namespace!r}")
    policy = PushPolicy(
        max_attempts=int(_number(env, "WALLET_PUSH_MAX_ATTEMPTS", defaults.max_attempts, 1, 100, whole=True)),
        backoff_base_s=_number(env, "WALLET_PUSH_BACKOFF_BASE_S", defaults.backoff_base_s, 0.001, 3600),
        backoff_cap_s=_number(env, "WALLET_PUSH_BACKOFF_CAP_S", defaults.backoff_cap_s, 0.001, 86400),
        batch_size=int(_number(env, "WALLET_PUSH_BATCH", defaults.batch_size, 1, 500, whole=True)),
        max_age=dt.timedelta(hours=_number(env, "WALLET_PUSH_MAX_AGE_H", defaults.max_age.total_seconds() / 3600,
                                           0.01, 24 * 30)),
        namespace=namespace,
    )
    return PushSettings(url=url, secret=secret, policy=policy,
                        timeout_s=_number(env, "WALLET_PUSH_TIMEOUT_S", PushSettings.timeout_s, 0.01, 120),
                        poll_s=_number(env, "WALLET_PUSH_POLL_S", PushSettings.poll_s, 0.01, 300))


def check_push_url(value: str, *, production: bool) -> str:
    """The gateway's URL: https with a host (http too outside production, for a local stand-in)."""
    if not value:
        raise ConfigError("WALLET_PUSH_URL is required: the national app's push gateway endpoint (https://...)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"WALLET_PUSH_URL is not a well-formed URL: {exc}") from exc
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme.lower() not in allowed or not parts.hostname or value != value.strip():
        where = " in production" if production else ""
        raise ConfigError(f"WALLET_PUSH_URL must be an {' or '.join(a + '://' for a in allowed)} URL with a "
                          f"host{where}, got {value!r}")
    return value


def read_push_secret(path: str) -> str:
    """The signing secret from its file: `whsec_` and the base64 of 24-64 random bytes (surrounding white
    space ignored). A file is used rather than a variable so the secret stays out of the process list and
    of environment dumps."""
    if not path:
        raise ConfigError("WALLET_PUSH_SECRET_FILE is required: a file holding the webhook signing secret "
                          "(whsec_ and base64)")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"WALLET_PUSH_SECRET_FILE {path!r} cannot be read: "
                          f"{exc.strerror if isinstance(exc, OSError) else exc}") from exc
    encoded = text.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    low, high = SECRET_BYTES
    if not text.startswith(SECRET_PREFIX) or not low <= len(key) <= high:
        raise ConfigError(f"WALLET_PUSH_SECRET_FILE {path!r} must hold {SECRET_PREFIX} and the base64 of "
                          f"{low}-{high} random bytes")
    return text


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, *,
            whole: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a {'whole ' if whole else ''}number, got {raw!r}") from exc
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value
