"""What a real gunicorn answers itself, before the service sees a request, is what openapi.yaml documents on
every operation (components/responses RequestLineTooLong and HeadersTooLarge): 414 for a request line over
4094 bytes, 431 for more than 100 header fields or one over 8190 bytes."""

from __future__ import annotations

import requests

from tests.live_server import live_server, start_server  # noqa: F401


def test_gunicorn_answers_414_and_431_as_documented(live_server):  # noqa: F811
    url = f"{live_server.url}/healthz"
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(f"{url}?q={'x' * 4100}", timeout=10).status_code == 414
    assert requests.get(url, headers={f"X-Field-{n}": "1" for n in range(101)}, timeout=10).status_code == 431
    assert requests.get(url, headers={"X-Long": "x" * 8200}, timeout=10).status_code == 431
    # Within gunicorn's limits the service answers with its own bounds: 200 characters for a parameter.
    assert requests.get(f"{url}?q={'x' * 200}", headers={"X-Long": "x" * 8000}, timeout=10).status_code == 200
    too_long = requests.get(f"{url}?q={'x' * 3900}", timeout=10)
    assert (too_long.status_code, too_long.json()["code"]) == (422, "validation_failed")
