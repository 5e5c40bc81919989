"""The push worker's rules without a database: backoff with full jitter and Retry-After, which answers are
retried, Retry-After parsing, the Standard Webhooks signature as the specification writes it, and the
settings it refuses."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from tests.push_gateway import new_secret
from wallet.config import ConfigError
from wallet.parents import push
from wallet.parents.push_config import check_push_url, push_settings_from_env, read_push_secret
from wallet.parents.push_http import WebhookSender, retry_after

POLICY = push.PushPolicy(backoff_base_s=2.0, backoff_cap_s=600.0)


@given(attempts=st.integers(1, 60), seed=st.integers(0, 2**32), hint=st.none() | st.floats(0, 10**6))
def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_never_before_retry_after(attempts, seed, hint):
    delay = push.backoff_s(POLICY, attempts, hint, random.Random(seed))
    ceiling = min(POLICY.backoff_cap_s, POLICY.backoff_base_s * 2 ** (attempts - 1))
    floor = min(hint, push.MAX_RETRY_AFTER_S) if hint else 0.0
    assert floor <= delay <= max(ceiling, floor)


def test_backoff_spreads_over_the_whole_interval():
    """Full jitter: draws fall anywhere from 0 to the ceiling, not bunched at it."""
    draws = [push.backoff_s(POLICY, 4, None, random.Random(n)) for n in range(400)]
    assert min(draws) < 16 * 0.1 and max(draws) > 16 * 0.9 and max(draws) <= 16


@pytest.mark.parametrize(("status", "again"), [
    (None, True), (408, True), (425, True), (429, True), (500, True), (502, True), (503, True), (599, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (413, False), (422, False),
    (301, False), (302, False),
])
def test_which_answers_are_tried_again(status, again):
    assert push.retryable(push.SendResult(status)) is again


NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("Thu, 03 Dec 2026 08:01:30 GMT", 90.0),
    ("Thu, 03 Dec 2026 07:00:00 GMT", 0.0), (None, None), ("", None), ("soon", None), ("-5", None),
    ("1.5", None), ("Thu, 99 Foo 2026", None),
])
def test_retry_after_is_read_as_seconds_or_an_http_date(header, seconds):
    assert retry_after(header, NOW) == seconds


@given(webhook_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60),
       body=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5))
def test_the_signature_is_the_standard_webhooks_one(webhook_id, body):
    """HMAC-SHA256 over `id.timestamp.body` with the base64-decoded key, `v1,` + base64, as the specification
    says, and accepted by the reference verifier."""
    secret = new_secret()
    raw = json.dumps(body, ensure_ascii=False).encode()
    now = dt.datetime.now(dt.UTC)
    headers = WebhookSender("http://127.0.0.1:9/", secret, timeout_s=1).headers(webhook_id, raw, now)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{webhook_id}.{int(now.timestamp())}.".encode() + raw, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == webhook_id and headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(raw, headers) == body


def test_the_idempotency_key_names_the_notification_the_guardian_and_the_namespace():
    keys = {push.idempotency_key(push.PushPolicy(namespace=ns), note, link)
            for ns in ("wallet-push", "kz-prod") for note in (1, 2, 12) for link in (1, 2, 21)}
    assert len(keys) == 18  # no two alike (1_21 and 12_1 differ too)


@pytest.mark.parametrize("url", [
    "", "gateway/push", "ftp://gw.example/", "file:///etc/passwd", "http://", "https://", "https://gw:0x1/",
    "https://gw:70000/", " https://gw.example/", "https://gw.example/ ", "javascript:alert(1)",
])
def test_bad_gateway_urls_are_refused(url):
    with pytest.raises(ConfigError, match="WALLET_PUSH_URL"):
        check_push_url(url, production=False)


def test_production_wants_https():
    assert check_push_url("https://push.example.kz/v1/wallet", production=True)
    with pytest.raises(ConfigError, match="in production"):
        check_push_url("http://push.example.kz/v1/wallet", production=True)
    assert check_push_url("http://127.0.0.1:8080/push", production=False)


@pytest.mark.parametrize("content", [
    "", "whsec_", "secret", "whsec_" + base64.b64encode(b"x" * 23).decode(),
    "whsec_" + base64.b64encode(b"x" * 65).decode(), "whsec_not base64!", base64.b64encode(b"x" * 32).decode(),
])
def test_bad_secrets_are_refused(tmp_path, content):
    path = tmp_path / "secret"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="WALLET_PUSH_SECRET_FILE"):
        read_push_secret(str(path))


def test_a_good_secret_file_is_read_and_never_shown(tmp_path):
    path = tmp_path / "secret"
    secret = new_secret()
    path.write_text(f"\n{secret}\n", encoding="utf-8")
    settings = push_settings_from_env({"WALLET_PUSH_URL": "https://gw.example/push",
                                       "WALLET_PUSH_SECRET_FILE": str(path)}, production=True)
    assert settings.secret == secret and secret not in repr(settings)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_push_secret(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot be read"):
        read_push_secret(str(tmp_path))  # a directory


@pytest.mark.parametrize(("name", "value"), [
    ("WALLET_PUSH_MAX_ATTEMPTS", "0"), ("WALLET_PUSH_MAX_ATTEMPTS", "2.5"), ("WALLET_PUSH_BACKOFF_BASE_S", "nan"),
    ("WALLET_PUSH_BACKOFF_CAP_S", "-1"), ("WALLET_PUSH_TIMEOUT_S", "inf"), ("WALLET_PUSH_BATCH", "100000"),
    ("WALLET_PUSH_NAMESPACE", "has space"), ("WALLET_PUSH_NAMESPACE", "x" * 41), ("WALLET_PUSH_MAX_AGE_H", "0"),
])
def test_bad_numbers_and_names_are_refused(tmp_path, name, value):
    path = tmp_path / "secret"
    path.write_text(new_secret(), encoding="utf-8")
    env = {"WALLET_PUSH_URL": "https://gw.example/push", "WALLET_PUSH_SECRET_FILE": str(path), name: value}
    with pytest.raises(ConfigError, match=name):
        push_settings_from_env(env, production=False)
