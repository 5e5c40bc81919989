"""gunicorn's settings, in one place: `gunicorn -c python:api.gunicorn_conf` (the app is `api.wsgi:build()`).

Used by `wallet serve`, `wallet run-demo`, the live-server tests and the benchmarks; they add only a bind
address, a worker count and logging on the command line, which gunicorn lets override what is set here.

- gevent workers: a parent's notification stream (api/notification_streams.py) is a connection that stays
  open for up to an hour; a sync worker would be held for all of it, so a few streams would stall every
  other request. A gevent worker serves up to `worker_connections` connections at once, an idle stream
  costing a parked greenlet and a socket. psycopg 3 cooperates with gevent by itself; SQLite calls do not
  yield (fine: they are short, and SQLite is for development and small sites).
- Forwarded headers: gunicorn believes none by itself (by default it would take `X-Forwarded-Proto` from
  loopback). Whether a reverse proxy's `X-Forwarded-For/-Proto` are believed is decided in one place, the
  app's WALLET_TRUSTED_PROXIES (ProxyFix, api/security.py).
- Open files: each connection is a descriptor, so a worker raises its soft limit to the hard one.
"""

from __future__ import annotations

import resource
import warnings
from typing import Any

# This file's package (api) is imported by the master before a worker patches the standard library; the one
# module gevent then names (jwt.jwks_client) imports ssl.SSLContext only as a type, so the warning is noise.
warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl has already been imported")

wsgi_app = "api.wsgi:build()"
worker_class = "gevent"
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
