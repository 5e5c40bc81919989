from tests.live_server import start_server  # noqa: F401
