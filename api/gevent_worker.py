"""gunicorn's gevent worker with a quiet quick quit: `worker_class` in api/gunicorn_conf.py.

gunicorn's gevent worker runs the quick quit (SIGINT from a terminal's Ctrl-C, SIGQUIT from the master) as
sys.exit in a new greenlet, which gevent prints as a traceback on the way out. Here it is a graceful stop
instead: requests in hand finish, and the master still kills a worker past graceful_timeout. The handler is
the class's own, so it is in force from gunicorn's init_signals on, also while the app is still loading (a
hook after loading left a window in which a Ctrl-C printed the traceback).

Once the app has loaded, the worker marks the server as booted (api/worker_boot.py): a database failing a
later worker's boot is then retried instead of halting the server.
"""

from __future__ import annotations

from types import FrameType

from gunicorn.workers.ggevent import GeventWorker

from api import worker_boot


class GracefulGeventWorker(GeventWorker):
    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        self.handle_exit(sig, frame)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        worker_boot.mark_booted()
