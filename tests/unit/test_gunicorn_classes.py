"""api/gevent_worker.py and api/gunicorn_logger.py. The quick quit of a gevent worker is a graceful stop,
handled by the class itself, so that no hook running after the app has loaded leaves a window for gunicorn's
own handler; no access line is built that the logging configuration drops."""

from __future__ import annotations

import logging
import signal

import gevent
from gunicorn.config import Config
from gunicorn.util import load_class

from api import gunicorn_conf
from api.gevent_worker import GracefulGeventWorker


def test_the_configured_worker_class_is_the_graceful_one():
    assert load_class(gunicorn_conf.worker_class) is GracefulGeventWorker
    assert not hasattr(gunicorn_conf, "post_worker_init")  # the class, not a late hook, sets the handlers


def test_a_quick_quit_only_ends_the_loop(monkeypatch):
    spawned: list[object] = []
    monkeypatch.setattr(gevent, "spawn", lambda *args, **kwargs: spawned.append(args))
    worker = GracefulGeventWorker.__new__(GracefulGeventWorker)
    worker.alive = True
    for sig in (signal.SIGINT, signal.SIGQUIT):
        worker.alive = True
        worker.handle_quit(sig, None)
        assert worker.alive is False
    assert spawned == []  # no greenlet calling sys.exit


def test_gunicorn_installs_it_for_sigint_and_sigquit(monkeypatch):
    installed: dict[int, object] = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.__setitem__(sig, handler))
    monkeypatch.setattr(signal, "siginterrupt", lambda *args: None)
    monkeypatch.setattr(signal, "set_wakeup_fd", lambda *args, **kwargs: -1)
    worker = GracefulGeventWorker.__new__(GracefulGeventWorker)
    worker.cfg, worker.PIPE = Config(), (-1, -1)
    worker.init_signals()
    for sig in (signal.SIGINT, signal.SIGQUIT):
        assert getattr(installed[sig], "__func__", None) is GracefulGeventWorker.handle_quit


def test_gunicorn_builds_no_access_line_that_the_logging_configuration_drops():
    config = Config()
    config.set("logconfig_dict", gunicorn_conf.logconfig_dict)  # as served: gunicorn would count it as on
    assert gunicorn_conf.logconfig_dict["loggers"]["gunicorn.access"]["level"] == "WARNING"
    logger = load_class(gunicorn_conf.logger_class).__new__(load_class(gunicorn_conf.logger_class))
    logger.cfg, logger.access_log = config, logging.getLogger("tests.gunicorn.access")
    logger.access_log.setLevel(logging.WARNING)
    assert logger.access_log_enabled is False
    logger.access_log.setLevel(logging.INFO)  # an operator who turns it on gets it
    assert logger.access_log_enabled is True
