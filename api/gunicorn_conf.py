"""gunicorn's settings, in one place: `gunicorn -c python:api.gunicorn_conf` (the app is `api.wsgi:build()`).

Used by `wallet serve`, `wallet run-demo`, the live-server tests and the benchmarks; they add only a bind
address, a worker count and logging on the command line, which gunicorn lets override what is set here.

- gevent workers: a parent's notification stream (api/notification_streams.py) is a connection that stays
  open for up to an hour; a sync worker would be held for all of it, so a few streams would stall every
  other request. A gevent worker serves up to `worker_connections` connections at once, an idle stream
  costing a parked greenlet and a socket. psycopg 3 cooperates with gevent by itself; SQLite calls do not
  yield (fine: they are short, and SQLite is for development and small sites). The worker class
  (api/gevent_worker.py) makes gunicorn's quick quit a graceful stop, without gevent's traceback.
- Forwarded headers: gunicorn believes none by itself (by default it would take `X-Forwarded-Proto` from
  loopback). Whether a reverse proxy's `X-Forwarded-For/-Proto` are believed is decided in one place, the
  app's WALLET_TRUSTED_PROXIES (ProxyFix, api/security.py).
- Open files: each connection is a descriptor, so a worker raises its soft limit to the hard one.
- Metrics (api/metrics): prometheus-client in multi-process mode. Each worker writes its figures to files in
  PROMETHEUS_MULTIPROC_DIR and /metrics, in whichever worker answers, adds up all of them. Unless the
  operator set the variable (then they empty that directory before each start, e.g. systemd's
  RuntimeDirectory), the master makes a fresh directory per start (named with its pid) and removes it at
  exit, so counts of a previous run never leak in, and at start removes those of masters that died without
  exiting (SIGKILL); `child_exit` drops a dead worker's live gauges.
- A worker's boot: the master halts the server when a worker exits with an app-load error; api/wsgi.py
  does so for a wrong configuration, and for an unreachable database only until a first worker booted
  (the worker class marks it, api/worker_boot.py; this module imports that one so the mark is shared).
- Logs: gunicorn's own error log goes through the app's JSON formatter (wallet/logs.py, WALLET_LOG_FORMAT and
  WALLET_LOG_LEVEL); its access log stays off, the app writes one line per request that knows the route
  template and the audience (api/request_log.py).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from api import worker_boot  # noqa: F401  (its shared mark is made here, in the master, before any fork)
from wallet import logs

# This file's package (api) is imported by the master before a worker patches the standard library; the one
# module gevent then names (jwt.jwks_client) imports ssl.SSLContext only as a type, so the warning is noise.
warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl has already been imported")

wsgi_app = "api.wsgi:build()"
worker_class = "api.gevent_worker.GracefulGeventWorker"
workers = 2
# Connections per worker. The app takes at most WALLET_STREAMS_PER_PROCESS (3000) of them for streams,
# so the rest always answers /healthz, terminal uploads and the console.
worker_connections = 4096
# A worker whose loop does not come round in this time (a request computing without yielding) is restarted;
# open streams do not count against it (they wait cooperatively).
timeout = 60
graceful_timeout = 10
keepalive = 5
control_socket_disable = True

# One JSON line a record for gunicorn and the app alike; no gunicorn access log (the app's line replaces it).
logconfig_dict = logs.dict_config(*logs.from_env(os.environ))
logger_class = "api.gunicorn_logger.AppLogger"  # builds no access line that the configuration drops

# Trust no forwarded header in gunicorn itself (see the module's docstring): no peer may set the scheme
# (`secure_scheme_headers`) or WSGI variables (`forwarder_headers`), not even over a UNIX socket.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# Enough descriptors for every connection of a worker, its database connections and its files.
OPEN_FILES_WANTED = worker_connections + 256


def raise_open_file_limit(wanted: int = OPEN_FILES_WANTED) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE towards the hard limit when it is below `wanted`;
    returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft, hard


def post_fork(server: Any, worker: Any) -> None:
    soft, _hard = raise_open_file_limit()
    if soft != resource.RLIM_INFINITY and soft < OPEN_FILES_WANTED:
        worker.log.warning("open-file limit is %s (hard limit); %s connections per worker need about %s",
                           soft, worker_connections, OPEN_FILES_WANTED)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_PREFIX = "wallet-metrics-"


def on_starting(server: Any) -> None:
    """In the master, before any worker forks (and before prometheus_client is imported anywhere)."""
    if not os.environ.get(MULTIPROC_ENV):
        remove_stale_metrics_dirs(Path(tempfile.gettempdir()))
        made = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-")
        os.environ[MULTIPROC_ENV] = made  # the workers inherit it
        server.wallet_metrics_dir = made


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    made = getattr(server, "wallet_metrics_dir", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


def remove_stale_metrics_dirs(parent: Path) -> None:
    """Remove the folders of masters that are gone: a master killed with SIGKILL never runs on_exit."""
    for folder in parent.glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_DIR_PREFIX).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True
