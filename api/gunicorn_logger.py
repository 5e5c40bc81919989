"""gunicorn's logger, building no access line that nobody takes: `logger_class` in api/gunicorn_conf.py.

gunicorn counts its access log as on whenever a logging configuration is given (we give one, for the JSON
lines of wallet/logs.py), and then builds every request's access atoms only for the `gunicorn.access` logger to
drop them at WARNING. The app writes its own line a request (api/request_log.py); this makes gunicorn skip
the work (about 2% of a worker's time on small reads, profiled with py-spy) unless that logger takes INFO.
"""

from __future__ import annotations

import logging

from gunicorn.glogging import Logger


class AppLogger(Logger):
    @property
    def access_log_enabled(self) -> bool:
        return self.access_log.isEnabledFor(logging.INFO) and bool(Logger.access_log_enabled.fget(self))  # type: ignore[attr-defined]
