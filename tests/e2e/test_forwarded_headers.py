"""Who decides what a forwarded header means: the app's WALLET_TRUSTED_PROXIES alone, never gunicorn by itself
(its default believes X-Forwarded-Proto from loopback). Against a real gunicorn with the production settings,
from loopback, as a reverse proxy on the same host (or anyone on it) would send."""

from __future__ import annotations

import pytest
import requests

HSTS = "Strict-Transport-Security"
# Every header gunicorn maps to the HTTPS scheme by default, each as a client could forge it.
FORGED = [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Protocol": "ssl"}, {"X-Forwarded-Ssl": "on"}]


@pytest.mark.parametrize("forged", FORGED, ids=lambda h: next(iter(h)))
def test_a_forged_scheme_header_is_ignored_without_trusted_proxies(start_server, forged):
    server = start_server(env={"WALLET_TRUSTED_PROXIES": "0"})
    for path in ("/healthz", "/console/sign-in"):
        response = requests.get(server.url + path, headers=forged, timeout=10)
        assert response.status_code == 200
        assert HSTS not in response.headers
        assert "Secure" not in response.headers.get("Set-Cookie", "")


def test_x_forwarded_proto_is_honoured_with_one_trusted_proxy(start_server):
    server = start_server(env={"WALLET_TRUSTED_PROXIES": "1"})
    assert HSTS in requests.get(server.url + "/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=10).headers
    assert HSTS not in requests.get(server.url + "/healthz", timeout=10).headers
