"""Settings read from the environment, in one place, validated once at start.

Development defaults to an SQLite file under instance/ and demo keys made on first use; production
(`WALLET_ENV=production`) refuses to start without an explicit database URL and real keys.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from wallet import clock
from wallet.witness_settings import WitnessConfigError, WitnessPolicy, policy_from_env

ENVIRONMENTS = ("development", "test", "production")
MIN_SECRET_KEY_CHARS = 32
# A QR token lives minutes: long enough to walk from the phone to the canteen, short enough that a copied
# screenshot is soon worthless (and every token is good for one meal only).
QR_TTL_BOUNDS_S = (30, 300)  # openapi.yaml QrTokenRequest.lifetimeS states the ceiling
REDIS_SCHEMES = ("redis", "rediss")
REDIS_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
REDIS_TIMEOUT_BOUNDS_MS = (1, 5000)


class ConfigError(RuntimeError):
    """Configuration that cannot work; the message is one line meant for an operator."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = ""
    # A streaming replica of database_url for the staff's read-only workloads (api/read_replica.py); empty:
    # they read the primary. PostgreSQL only.
    read_database_url: str = field(default="", repr=False)
    instance_path: Path = field(default_factory=lambda: Path("instance"))
    service_audience: str = "social-wallet-meal-ledger"
    signing_key_path: Path | None = None
    # Dynamic QR tokens (wallet/qr): their own Ed25519 key (terminals get its public half in the roster)
    # and their lifetime, which a parent's request may shorten but never lengthen.
    qr_signing_key_path: Path | None = None
    qr_token_ttl_s: int = 300
    # Further QR public keys (PEM files) that terminals and the ingest accept beside the signing key's own:
    # the next key, published before it signs, or the previous one, until its last tokens have expired.
    qr_public_key_paths: tuple[Path, ...] = ()
    max_batch_events: int = 500
    terminal_token_max_lifetime_s: int = 600
    # How far a terminal's clock may be from the service's: the leeway of its tokens' time claims, and
    # the bound beyond which its meals are refused as device_clock_out_of_bounds.
    device_clock_tolerance_s: int = 300
    sql_echo: bool = False
    # The national identity provider (parents and staff): issuer, audience, algorithms and its JWKS
    # (a file path or an https URL; http only outside production, see check_idp_jwks). Without a JWKS
    # outside production, a local development identity provider with keys under instance/ stands in for
    # it (never in production).
    idp_issuer: str = "urn:social-wallet:dev-idp"
    idp_audience: str = "social-wallet"
    idp_jwks: str = ""
    idp_algorithms: tuple[str, ...] = ("RS256", "ES256")
    # Abuse protection (api/ratelimit.py): at most N requests in any minute (a moving window), per terminal
    # id, per parent, per staff member, and per client address for requests that carry no valid identity
    # (enrollment, unknown paths, failed authentication). Generous on purpose: real terminals and apps never
    # come near them.
    rate_limits_enabled: bool = True
    rate_limit_terminal_per_min: int = 1200
    rate_limit_parent_per_min: int = 600
    rate_limit_staff_per_min: int = 1200
    rate_limit_address_per_min: int = 600
    # Where the counts live: each worker process's memory (the default), or, with a redis:// or rediss://
    # URL, a Redis shared by every worker on every host, under keys that begin with redis_prefix. Redis
    # must answer within redis_timeout_ms, or the limiter counts in memory until it does again. Redis sees
    # only keyed hashes of the identities (keyed by secret_key, required in production with a Redis URL).
    redis_url: str = field(default="", repr=False)  # may hold a password
    redis_prefix: str = "wallet"
    redis_timeout_ms: int = 100
    # Parents' notification streams held open at once in one worker process (api/notification_streams.py):
    # per parent, and in all. A further stream is refused with 429. Per process: W workers allow W times.
    streams_per_parent: int = 3
    streams_per_process: int = 3000
    # Reverse proxies in front of the service that may set X-Forwarded-For/-Proto (0: trust none; then the
    # client address is the peer's and HTTPS is known only from the WSGI server).
    trusted_proxies: int = 0
    # Request bodies (api/security.py): a terminal batch may be this large; every other body much smaller.
    # JSON nested deeper than the depth limits, or holding more arrays and objects than max_json_containers,
    # is refused before it is parsed. A batch's limit is looser: a nested value inside one event is that
    # event's error, not the batch's (one bad event never sinks the others).
    max_batch_body_bytes: int = 4 * 1024 * 1024
    max_body_bytes: int = 64 * 1024
    max_json_depth: int = 32
    max_batch_json_depth: int = 256
    max_json_containers: int = 10_000
    # The web console (api/console): on unless WALLET_CONSOLE=off. Its session cookie is signed with
    # WALLET_SECRET_KEY; the app refuses to start the console in production without one (never a default
    # secret; the command line does not need it), development and tests use a random key under instance/.
    console_enabled: bool = True
    secret_key: str = field(default="", repr=False)
    console_session_s: int = 30 * 60
    # Prometheus metrics (api/metrics): collected and served at /metrics only when this token is set;
    # Prometheus sends it as a bearer token. Unset: no /metrics (404) and no metric hooks.
    metrics_token: str = field(default="", repr=False)
    # A terminal whose oldest unsent meal (as it last reported) or whose silence is older than this is flagged
    # on the console's school page and in the admin API (wallet/terminal_backlog.py).
    terminal_backlog_alert_s: int = 24 * 3600
    # Tests only (WALLET_ENV=test): a file holding the instant the service takes as now (wallet/clock.py).
    test_clock_file: Path | None = None

    def now(self) -> dt.datetime:
        """The service's clock: the system's, or the test clock file's (wallet/clock.py)."""
        return clock.now(self.test_clock_file)

    # Independent witnesses of the national log (wallet/witness_settings.py, WALLET_WITNESS_*).
    witness_policy: WitnessPolicy = field(default_factory=WitnessPolicy)

    @property
    def dev_idp_enabled(self) -> bool:
        return not self.is_production and not self.idp_jwks

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
    read_database_url = env.get("WALLET_READ_DATABASE_URL", "").strip()
    if read_database_url and not read_database_url.startswith("postgresql"):
        raise ConfigError("WALLET_READ_DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://...) of a "
                          "streaming replica")
    key_path = env.get("WALLET_SIGNING_KEY")
    if environment == "production" and not key_path:
        raise ConfigError("WALLET_SIGNING_KEY (an Ed25519 PEM file) is required in production")
    qr_key_path = env.get("WALLET_QR_SIGNING_KEY")
    if environment == "production" and not qr_key_path:
        raise ConfigError("WALLET_QR_SIGNING_KEY (an Ed25519 PEM file) is required in production")
    qr_ttl = _int(env, "WALLET_QR_TOKEN_TTL_S", Settings.qr_token_ttl_s)
    if not QR_TTL_BOUNDS_S[0] <= qr_ttl <= QR_TTL_BOUNDS_S[1]:
        low, high = QR_TTL_BOUNDS_S
        raise ConfigError(f"WALLET_QR_TOKEN_TTL_S must be {low}-{high} seconds, got {qr_ttl}")
    idp_jwks = env.get("WALLET_IDP_JWKS", "")
    if environment == "production" and not (idp_jwks and env.get("WALLET_IDP_ISSUER")):
        raise ConfigError("WALLET_IDP_JWKS and WALLET_IDP_ISSUER are required in production")
    check_idp_jwks(idp_jwks, production=environment == "production")
    console = _switch(env, "WALLET_CONSOLE", default=True)
    secret_key = env.get("WALLET_SECRET_KEY", "")
    if secret_key and len(secret_key) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(f"WALLET_SECRET_KEY must hold at least {MIN_SECRET_KEY_CHARS} characters")
    metrics_token = env.get("WALLET_METRICS_TOKEN", "").strip()
    if metrics_token and len(metrics_token) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(f"WALLET_METRICS_TOKEN must hold at least {MIN_SECRET_KEY_CHARS} characters")
    redis_url = check_redis_url(env.get("WALLET_REDIS_URL", ""))
    if environment == "production" and redis_url and not secret_key:
        raise ConfigError("WALLET_SECRET_KEY is required in production with WALLET_REDIS_URL: it keys the "
                          "pseudonyms under which the rate limits are counted in Redis")
    test_clock = env.get(clock.TEST_CLOCK_ENV, "").strip()
    if test_clock and environment != "test":
        raise ConfigError(f"{clock.TEST_CLOCK_ENV} is honoured only with WALLET_ENV=test")
    algorithms = tuple(a.strip() for a in env.get("WALLET_IDP_ALGORITHMS", "RS256,ES256").split(",") if a.strip())
    unsafe = [a for a in algorithms if a not in ("RS256", "ES256", "PS256", "EdDSA")]
    if unsafe or not algorithms:
        raise ConfigError(f"WALLET_IDP_ALGORITHMS may hold only RS256, ES256, PS256, EdDSA, got {unsafe or 'none'}")
    return Settings(
        environment=environment,
        idp_issuer=env.get("WALLET_IDP_ISSUER", Settings.idp_issuer),
        idp_audience=env.get("WALLET_IDP_AUDIENCE", Settings.idp_audience),
        idp_jwks=idp_jwks,
        idp_algorithms=algorithms,
        database_url=database_url,
        read_database_url=read_database_url,
        instance_path=instance,
        service_audience=env.get("WALLET_AUDIENCE", Settings.service_audience),
        signing_key_path=Path(key_path) if key_path else None,
        qr_signing_key_path=Path(qr_key_path) if qr_key_path else None,
        qr_token_ttl_s=qr_ttl,
        qr_public_key_paths=tuple(Path(p.strip()) for p in env.get("WALLET_QR_PUBLIC_KEYS", "").split(",")
                                  if p.strip()),
        max_batch_events=_int(env, "WALLET_MAX_BATCH_EVENTS", Settings.max_batch_events),
        terminal_token_max_lifetime_s=_int(env, "WALLET_TERMINAL_TOKEN_MAX_S", 600),
        device_clock_tolerance_s=_int(env, "WALLET_DEVICE_CLOCK_TOLERANCE_S", 300),
        sql_echo=_flag(env.get("WALLET_SQL_ECHO")),
        rate_limits_enabled=_switch(env, "WALLET_RATE_LIMITS", default=True),
        rate_limit_terminal_per_min=_positive(env, "WALLET_RATE_LIMIT_TERMINAL_PER_MIN",
                                              Settings.rate_limit_terminal_per_min),
        rate_limit_parent_per_min=_positive(env, "WALLET_RATE_LIMIT_PARENT_PER_MIN",
                                            Settings.rate_limit_parent_per_min),
        rate_limit_staff_per_min=_positive(env, "WALLET_RATE_LIMIT_STAFF_PER_MIN", Settings.rate_limit_staff_per_min),
        rate_limit_address_per_min=_positive(env, "WALLET_RATE_LIMIT_ADDRESS_PER_MIN",
                                             Settings.rate_limit_address_per_min),
        redis_url=redis_url,
        redis_prefix=_redis_prefix(env),
        redis_timeout_ms=_redis_timeout_ms(env),
        streams_per_parent=_positive(env, "WALLET_STREAMS_PER_PARENT", Settings.streams_per_parent),
        streams_per_process=_positive(env, "WALLET_STREAMS_PER_PROCESS", Settings.streams_per_process),
        trusted_proxies=_positive(env, "WALLET_TRUSTED_PROXIES", Settings.trusted_proxies, minimum=0),
        max_batch_body_bytes=_positive(env, "WALLET_MAX_BATCH_BODY_BYTES", Settings.max_batch_body_bytes),
        max_body_bytes=_positive(env, "WALLET_MAX_BODY_BYTES", Settings.max_body_bytes),
        max_json_depth=_positive(env, "WALLET_MAX_JSON_DEPTH", Settings.max_json_depth),
        max_batch_json_depth=_positive(env, "WALLET_MAX_BATCH_JSON_DEPTH", Settings.max_batch_json_depth),
        max_json_containers=_positive(env, "WALLET_MAX_JSON_CONTAINERS", Settings.max_json_containers),
        console_enabled=console,
        secret_key=secret_key,
        console_session_s=_positive(env, "WALLET_CONSOLE_SESSION_S", Settings.console_session_s, minimum=60),
        metrics_token=metrics_token,
        terminal_backlog_alert_s=_positive(env, "WALLET_TERMINAL_BACKLOG_ALERT_S", Settings.terminal_backlog_alert_s,
                                           minimum=60),
        test_clock_file=Path(test_clock) if test_clock else None,

        witness_policy=_witness_policy(env, environment == "production"),
    )


def _witness_policy(env: Mapping[str, str], production: bool) -> WitnessPolicy:
    try:
        return policy_from_env(env, production=production)
    except WitnessConfigError as exc:
        raise ConfigError(str(exc)) from exc


# RFC 3986: a scheme is a letter, then letters, digits, "+", "-" or "."; then ":".
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def jwks_is_url(value: str) -> bool:
    """Whether WALLET_IDP_JWKS names a URL (fetched) rather than a file (read): it begins with a scheme."""
    return bool(_URL_SCHEME.match(value))


def check_idp_jwks(value: str, *, production: bool) -> None:
    """Refuse a JWKS source whose keys could come from someone else: the keys decide whose tokens are
    believed. A URL must be https with a host (in production always; http is for local stand-ins in
    development and tests); any other scheme (file:, ftp:, data:, ...) is refused everywhere, since a file
    is named by its path. A path is the operator's own file, read once at start, allowed everywhere."""
    if not value:
        return
    if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError("WALLET_IDP_JWKS must not hold spaces at its ends or control characters")
    found = _URL_SCHEME.match(value)
    if found is None:
        return
    scheme = found.group(1).lower()
    allowed = ("https",) if production else ("https", "http")
    if scheme not in allowed:
        where = "in production " if production and scheme == "http" else ""
        raise ConfigError(f"WALLET_IDP_JWKS must be an https:// URL {where}(or the path of a JWKS file), "
                          f"got a {scheme}: URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"WALLET_IDP_JWKS is not a well-formed URL: {exc}") from exc
    if not parts.hostname:
        raise ConfigError(f"WALLET_IDP_JWKS must name a host, got {value!r}")


def check_redis_url(value: str) -> str:
    """WALLET_REDIS_URL, empty (counts in each process) or a redis:// or rediss:// URL with a host; the
    operator chooses TLS (rediss) or not for their network, see SECURITY.md. The message never repeats the
    URL, which may hold a password."""
    value = value.strip()
    if not value:
        return ""
    found = _URL_SCHEME.match(value)
    scheme = found.group(1).lower() if found else ""
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(f"WALLET_REDIS_URL must be a redis:// or rediss:// URL, got "
                          f"{f'a {scheme}: URL' if scheme else 'no URL scheme'}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        database = parts.path.strip("/")
    except ValueError as exc:
        raise ConfigError(f"WALLET_REDIS_URL is not a well-formed URL: {exc}") from exc
    if not parts.hostname:
        raise ConfigError("WALLET_REDIS_URL must name a host")
    if database and not database.isdigit():
        raise ConfigError("WALLET_REDIS_URL may end only in a database number, such as /0")
    return value


def redis_location(url: str) -> str:
    """host:port/db of a Redis URL, without the password, for logs and `wallet check-config`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


def _redis_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("WALLET_REDIS_PREFIX", "") or Settings.redis_prefix
    if not REDIS_PREFIX.match(prefix):
        raise ConfigError("WALLET_REDIS_PREFIX must be 1-64 letters, digits or _.:-")
    return prefix


def _redis_timeout_ms(env: Mapping[str, str]) -> int:
    timeout = _int(env, "WALLET_REDIS_TIMEOUT_MS", Settings.redis_timeout_ms)
    low, high = REDIS_TIMEOUT_BOUNDS_MS
    if not low <= timeout <= high:
        raise ConfigError(f"WALLET_REDIS_TIMEOUT_MS must be {low}-{high} milliseconds, got {timeout}")
    return timeout


def idp_keys_source(settings: Settings) -> str:
    """Where the identity provider's keys come from, in words for `wallet check-config`."""
    if not settings.idp_jwks:
        return "the development identity provider (instance/)" if settings.dev_idp_enabled else "none"
    return f"{'the URL' if jwks_is_url(settings.idp_jwks) else 'the file'} {settings.idp_jwks}"


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def _positive(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    value = _int(env, name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value
