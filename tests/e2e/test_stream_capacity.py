"""Open notification streams under a real gunicorn (the production settings, api/gunicorn_conf.py) do not hold
the workers: with more streams than workers open, the health probe, a terminal's batch and a console page are
still answered; a stream ends when its parent's token expires."""

from __future__ import annotations

import datetime as dt
import resource
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from api.auth import dev_idp
from api.gunicorn_conf import raise_open_file_limit
from tests.factories import an_iin, batch, meal_event
from tests.parent_factories import Parent, link

STREAM = "/api/v1/parent/notifications/stream"
WORKERS = 2  # the production default (`wallet serve`)
STREAMS = 20
PER_PARENT = 3
CLIENT_TIMEOUT_S = 10


def parents(session_factory, world, settings, count: int) -> list[Parent]:
    """`count` families, each linked to one of the world's eligible pupils."""
    made = []
    with session_factory() as session:
        for n in range(count):
            iin = an_iin(dt.date(1980, 1, 1) + dt.timedelta(days=n), female=n % 2 == 0)
            child = world.eligible[n % len(world.eligible)]
            link(session, iin, child)
            made.append(Parent(iin, child, settings))
    return made


def open_stream(stack: ExitStack, url: str, headers: dict[str, str]) -> requests.Response:
    """A stream whose first line has arrived, so it is being served (not waiting in a queue)."""
    response = stack.enter_context(requests.get(url + STREAM, headers=headers, stream=True, timeout=CLIENT_TIMEOUT_S))
    assert response.status_code == 200, response.text
    first = next(response.iter_lines(decode_unicode=True))
    assert first.startswith("retry:")
    return response


@pytest.fixture
def open_streams(start_server, session_factory, world, settings) -> Iterator[str]:
    server = start_server(workers=WORKERS)
    families = parents(session_factory, world, settings, -(-STREAMS // PER_PARENT))
    with ExitStack() as stack:
        for n in range(STREAMS):
            open_stream(stack, server.url, families[n % len(families)].headers())
        yield server.url


def test_open_streams_leave_the_health_probe_uploads_and_console_answering(open_streams, terminal_key, world):
    assert requests.get(f"{open_streams}/healthz", timeout=CLIENT_TIMEOUT_S).status_code == 200
    upload = requests.post(f"{open_streams}/api/v1/terminal/events", headers=terminal_key.headers(),
                           json=batch(meal_event(world.eligible[0], 1)), timeout=CLIENT_TIMEOUT_S)
    assert upload.status_code == 200 and upload.json()["summary"]["invalid"] == 0
    page = requests.get(f"{open_streams}/console/sign-in", timeout=CLIENT_TIMEOUT_S)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


def test_a_stream_ends_when_its_token_expires(start_server, session_factory, world, settings):
    """The configured lifetime is an hour and keep-alives come every 15 s: only the token's exp, seconds away,
    can end the body before the client's read timeout."""
    server = start_server(workers=1)
    [family] = parents(session_factory, world, settings, 1)
    short = dev_idp.issue_token(settings, family.iin, {"role": "parent"}, lifetime=dt.timedelta(seconds=3))
    with requests.get(server.url + STREAM, headers={"Authorization": f"Bearer {short}"}, stream=True,
                      timeout=CLIENT_TIMEOUT_S) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_content(chunk_size=None)).decode()  # ReadTimeout if it did not end
    assert body.startswith("retry:")


def test_a_parent_past_the_cap_gets_a_429_problem_from_gunicorn(start_server, session_factory, world, settings):
    server = start_server(workers=1)
    [family] = parents(session_factory, world, settings, 1)
    with ExitStack() as stack:
        for _ in range(PER_PARENT):
            open_stream(stack, server.url, family.headers())
        refused = requests.get(server.url + STREAM, headers=family.headers(), timeout=CLIENT_TIMEOUT_S)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_streams" and int(refused.headers["Retry-After"]) > 0


def test_a_worker_raises_its_open_file_limit_to_the_hard_limit():
    """Each connection is a descriptor: a worker (api/gunicorn_conf.py post_fork) lifts a low soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_open_file_limit() == (hard, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
