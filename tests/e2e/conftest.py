"""Fixtures for the end-to-end crash tests: a real gunicorn on the test's database (see tests/live_server.py)."""

from tests.live_server import live_server, start_server  # noqa: F401
