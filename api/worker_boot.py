"""What a booting gunicorn worker does when the database does not answer (api/wsgi.py build()).

gunicorn's master halts the whole server, its listening socket and every serving worker with it, when one
worker exits with status 3 or 4 (boot error, app load error): meant for an application that cannot load at
all. A wrong configuration is such a case (every worker would fail alike), and so is a database that does
not answer at the first start: the start stops with one clear line. Once a worker of this server has booted,
a database failing for the boot of another one (the second worker of a start booting late under load, one
restarted after a timeout or a crash) is a passing fault (a restart, a full connection table): halting would
turn it into an outage of the whole server while its other workers serve. Such a worker retries for a while
and, if the database stays away, exits with an ordinary failure status, and the master forks another.

The master and its workers share one byte, in an anonymous mapping made when this module is imported: the
master imports it (api/gunicorn_conf.py) before it forks, so every worker sees the mark of the first one
that booted (gunicorn's post_worker_init hook calls mark_booted).
"""

from __future__ import annotations

import logging
import mmap
import sys
import time
from collections.abc import Callable

from wallet.db import DatabaseUnreachable

log = logging.getLogger(__name__)

# Retries of a worker booting after another one did: well within gunicorn's worker timeout (60 s,
# api/gunicorn_conf.py), past which the master would kill a worker still booting.
RETRY_FOR_S = 20.0
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 4.0
# Any status but 3 and 4 makes the master replace the worker instead of halting.
GIVE_UP_STATUS = 1

_booted = mmap.mmap(-1, 1)  # MAP_SHARED: a write in one process is seen by the master and its other children


def mark_booted() -> None:
    _booted[0] = 1


def has_booted() -> bool:
    """Whether a worker of this master has loaded the application (always False outside gunicorn)."""
    return _booted[0] == 1


def wait_for_database(check: Callable[[], None], *, sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic) -> None:
    """Run `check` (it raises DatabaseUnreachable) until it passes.

    Before any worker booted, its first failure is raised (the caller stops the start with its line). After,
    it is retried for RETRY_FOR_S with growing pauses, then this process exits with GIVE_UP_STATUS."""
    deadline = clock() + RETRY_FOR_S
    delay = FIRST_DELAY_S
    while True:
        try:
            check()
            return
        except DatabaseUnreachable as exc:
            if not has_booted():
                raise
            if clock() + delay > deadline:
                log.error("%s; this worker gives up booting, the master starts another", exc)
                sys.exit(GIVE_UP_STATUS)
            log.warning("%s; booting worker retries in %.2f s, the others keep serving", exc, delay)
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
