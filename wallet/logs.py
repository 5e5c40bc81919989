"""Logs as one JSON object a line (structlog), for the API, gunicorn itself and the command line alike.

Every record goes through the standard library's `logging` (so `logging.getLogger(__name__)` calls, gunicorn's
error log and structlog's loggers all end in one handler) and is rendered by structlog's ProcessorFormatter:
JSON for machines (`WALLET_LOG_FORMAT=json`, the default), key=value text for a person at a terminal
(`console`). Values bound with `bind_request` (the request id, under gevent one context per greenlet) join
every line logged while they are bound.

`redact` is the last line of defence, run on every line before it is written: a bearer token or anything
shaped like a JWT is dropped and every IIN-shaped run of digits masked (wallet.identifiers.mask_iin_like,
word by word), so a careless message cannot leak a child's number or a credential. Code should still never
log either (tests/log_scan.py checks the records of the whole test suite before redaction).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from wallet.config import ConfigError
from wallet.identifiers import IIN_RUN, mask_iin_like

FORMATS = ("json", "console")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
HANDLER_NAME = "wallet"
# Alembic says "Context impl SQLiteImpl." and "Will assume non-transactional DDL." at INFO each time a command
# or the readiness probe looks at the schema's revision: noise in every log. Its warnings still pass, and an
# upgrade writes a line of its own (wallet.migrate).
QUIET_LOGGERS = {"alembic": "WARNING"}

# A bearer credential or a compact JWS/JWT (three base64url segments, the first one a JSON header: `eyJ`).
_TOKEN = re.compile(r"Bearer\s+\S+|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", re.IGNORECASE)
TOKEN_REMOVED = "[token removed]"  # noqa: S105 - what replaces a token, not one


def from_env(env: Mapping[str, str], *, default_format: str = "json", default_level: str = "INFO") -> tuple[str, str]:
    """(format, level) from WALLET_LOG_FORMAT (json or console) and WALLET_LOG_LEVEL (DEBUG ... CRITICAL)."""
    fmt = env.get("WALLET_LOG_FORMAT", "").strip().lower() or default_format
    level = env.get("WALLET_LOG_LEVEL", "").strip().upper() or default_level
    if fmt not in FORMATS:
        raise ConfigError(f"WALLET_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if level not in LEVELS:
        raise ConfigError(f"WALLET_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}")
    return fmt, level


_WORDS = re.compile(r"(\s+)")
# Decimal digits of any script, as wallet.identifiers counts them: fewer than twelve make no IIN-shaped run.
_DIGIT = re.compile(r"\d")
_TOKEN_HINT = re.compile(r"bearer|eyj", re.IGNORECASE)


def _few_digits(text: str) -> bool:
    return len(_DIGIT.findall(text)) < IIN_RUN


def redact_text(text: str) -> str:
    """`text` with tokens dropped and IIN-shaped runs masked, word by word: in a whole line, separators would
    join an address, a port and a process id into one "run" and mask them all. The common case (no token,
    under twelve digits) is decided by two regular-expression scans, without looking at each character."""
    if _TOKEN_HINT.search(text):
        text = _TOKEN.sub(TOKEN_REMOVED, text)
    if _few_digits(text):
        return text
    return "".join(word if _few_digits(word) else mask_iin_like(word) for word in _WORDS.split(text))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**11:
        return redact_text(str(value))
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    return value


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: every value of the line redacted (see the module's notes)."""
    for key, value in event_dict.items():
        if not key.startswith("_"):
            event_dict[key] = _redacted(value)
    return event_dict


# Run on structlog's own lines and on foreign (standard library) records alike, before rendering.
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
]


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of every handler: shared processors, tracebacks as text, redaction, then render."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,  # before the time stamp: a clock reading is the logger's own, not a number to mask
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
    )


def configure_structlog() -> None:
    """Route structlog's loggers into the standard library's `logging` (idempotent; no handler installed)."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def dict_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration: the root logger writes every record to stderr through
    `formatter(fmt)`; gunicorn's error log hands its records to it, its access log is off (api/gunicorn_conf.py)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"wallet": {"()": formatter, "fmt": fmt}},
        "handlers": {HANDLER_NAME: {"class": "logging.StreamHandler", "formatter": "wallet",
                                    "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": [HANDLER_NAME]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # gunicorn writes its access lines (INFO) whenever a logging configuration is given; the app's own
            # line per request replaces them (it knows the route template and audience), so they stay off.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            **{name: {"level": _quiet(level, floor), "handlers": [], "propagate": True}
               for name, floor in QUIET_LOGGERS.items()},
        },
    }


def install(fmt: str = "json", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Write every record at `level` and above to `stream` (stderr) in `fmt`; replaces only a handler this
    function installed before (a test's capturing handlers stay)."""
    configure_structlog()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(_quiet(level, floor))


def _quiet(level: str, floor: str) -> str:
    """`floor` for a chatty library, unless DEBUG was asked for (then everything)."""
    return level if level == "DEBUG" else max(level, floor, key=LEVELS.index)


def bind_request(**values: Any) -> None:
    """Bind values (the request id) to every line logged until `unbind_request`; per greenlet under gevent."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)


def unbind_request() -> None:
    structlog.contextvars.clear_contextvars()


def get_logger(name: str) -> Any:
    configure_structlog()
    return structlog.stdlib.get_logger(name)
