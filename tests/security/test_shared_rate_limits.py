"""Rate limits counted in Redis (WALLET_REDIS_URL): two apps (two worker processes) spend one budget, with
the same rules of who is charged as in memory; a prefix keeps deployments apart; and when Redis refuses or
hangs, every request is still answered, counted in the process's own memory, with one warning, until Redis
answers again (asked at most every RETRY_SHARED_S seconds). The real Redis of the machine, through a relay
that the tests cut and mend (tests/redis_relay.py); tests/e2e/test_shared_rate_limits.py does it under gunicorn.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import pytest
from limits import RateLimitItemPerMinute

from api import create_app
from api.limit_counts import RETRY_SHARED_S, Counts, redis_storage
from api.ratelimit import storage_state
from tests.redis_relay import REDIS_HOST, REDIS_PORT, redis_client, redis_prefix, relay  # noqa: F401
from tests.security.routes import route, send

LIMIT = 5
ROSTER = route("GET /api/v1/terminal/roster")
CHILDREN = route("GET /api/v1/parent/children")
ENROLL = route("POST /api/v1/terminal/enroll")
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def limited_settings(quiet_settings, url: str, prefix: str, **extra):  # type: ignore[no-untyped-def]
    return dataclasses.replace(quiet_settings, rate_limits_enabled=True, rate_limit_terminal_per_min=LIMIT,
                               rate_limit_parent_per_min=LIMIT, rate_limit_staff_per_min=LIMIT,
                               rate_limit_address_per_min=LIMIT, redis_url=url, redis_prefix=prefix, **extra)


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.name == "api.limit_counts"]
    return [m for m in messages if "did not answer" in m]


def test_two_workers_counting_in_redis_spend_one_budget(quiet_settings, engine, sec, redis_prefix):  # noqa: F811
    settings = limited_settings(quiet_settings, REDIS_URL, redis_prefix)
    workers = [create_app(settings, engine=engine).test_client() for _ in range(2)]
    for who, r in (("terminal", ROSTER), ("parent", CHILDREN)):
        statuses = [send(workers[n % 2], r, sec, who).status_code for n in range(2 * LIMIT)]
        assert statuses == [200] * LIMIT + [429] * LIMIT, (who, statuses)
    # Another parent, and anonymous requests of the same address, have budgets of their own.
    assert send(workers[1], CHILDREN, sec, "other_parent").status_code == 200
    assert send(workers[0], ENROLL, sec, None).status_code == 422
    assert [storage_state(w.application) for w in workers] == ["shared", "shared"]


def test_redis_holds_no_identity_in_clear(quiet_settings, engine, sec, redis_prefix):  # noqa: F811
    """Keys in Redis are keyed hashes: no parent's IIN, staff subject, terminal id or client address."""
    from tests.parent_factories import PARENT_IIN

    client = create_app(limited_settings(quiet_settings, REDIS_URL, redis_prefix), engine=engine).test_client()
    for who, r in (("terminal", ROSTER), ("parent", CHILDREN), ("operator", route("GET /api/v1/admin/terminals")),
                   (None, ENROLL)):
        assert send(client, r, sec, who).status_code in (200, 422)
    keys = [key.decode() for key in redis_client().scan_iter(match=f"{redis_prefix}:*")]
    assert len(keys) == 4, keys
    clear = [PARENT_IIN, "operator-1", sec.terminal.terminal_id, "127.0.0.1"]
    assert not [key for key in keys for value in clear if value in key], keys


@pytest.mark.parametrize("claim", ["\ud800", "T-1/1/1/minute", "a" * 128, "\x00", "ключ", "*"])
def test_any_claimed_identity_is_counted_in_redis_without_error(claim, quiet_settings, engine, sec,
                                                                redis_prefix):  # noqa: F811
    """Whatever string an unverified token claims as its issuer (lone surrogates, slashes, glob characters,
    NUL), looking up its count in Redis is no error: the 401 of the view, never a 500."""
    import base64
    import json

    client = create_app(limited_settings(quiet_settings, REDIS_URL, redis_prefix), engine=engine).test_client()
    payload = base64.urlsafe_b64encode(json.dumps({"iss": claim}).encode()).rstrip(b"=").decode()
    token = f"eyJhbGciOiJFZERTQSJ9.{payload}.c2ln"
    for _ in range(2):
        assert client.get(ROSTER.url(sec), headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_forged_token_counted_in_redis_is_charged_to_its_sender(quiet_settings, engine, sec, redis_prefix):  # noqa: F811
    """The rules of who is charged do not change with the storage: a token naming terminal A but signed by
    another key spends the sender's address budget in Redis, never terminal A's."""
    from tests.factories import TerminalKey

    workers = [create_app(limited_settings(quiet_settings, REDIS_URL, redis_prefix), engine=engine).test_client()
               for _ in range(2)]
    forger = TerminalKey(sec.terminal.terminal_id)
    statuses = [workers[n % 2].get(ROSTER.url(sec), headers={"Authorization": f"Bearer {forger.token()}"}).status_code
                for n in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429] * 2
    elsewhere = {"REMOTE_ADDR": "192.0.2.8"}
    for n in range(LIMIT):
        assert workers[n % 2].get(ROSTER.url(sec), headers=sec.headers("terminal"),
                                  environ_overrides=elsewhere).status_code == 200


def test_production_with_redis_needs_the_secret_key_that_keys_the_pseudonyms(tmp_path):
    from wallet.config import ConfigError, settings_from_env

    production = {"WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql+psycopg://db/wallet",
                  "WALLET_SIGNING_KEY": "k.pem", "WALLET_QR_SIGNING_KEY": "q.pem", "WALLET_IDP_JWKS": "jwks.json",
                  "WALLET_IDP_ISSUER": "urn:idp", "WALLET_CONSOLE": "off", "WALLET_REDIS_URL": REDIS_URL,
                  "WALLET_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="WALLET_SECRET_KEY is required in production with WALLET_REDIS_URL"):
        settings_from_env(production)
    assert settings_from_env({**production, "WALLET_SECRET_KEY": "s" * 32}).redis_url == REDIS_URL
    assert settings_from_env({**production, "WALLET_REDIS_URL": ""}).redis_url == ""


def test_the_pseudonyms_are_keyed_by_the_secret_key():
    from api.ratelimit import pseudonyms

    one, same, other = pseudonyms("a" * 32), pseudonyms("a" * 32), pseudonyms("b" * 32)
    assert one("880101300123") == same("880101300123") != other("880101300123")
    assert len({one(v) for v in ("880101300123", "880101300124", "", "\ud800", "T-1")}) == 5


def test_retry_after_stays_within_the_window_when_another_host_s_clock_is_ahead(quiet_settings, engine, sec,
                                                                               redis_prefix):  # noqa: F811
    import time

    import time_machine

    from tests.security.test_rate_limits import assert_429

    settings = limited_settings(quiet_settings, REDIS_URL, redis_prefix)
    ahead, here = (create_app(settings, engine=engine).test_client() for _ in range(2))
    with time_machine.travel(time.time() + 100, tick=False):  # a host whose clock is 100 s fast
        for _ in range(LIMIT):
            assert send(ahead, ENROLL, sec, None).status_code == 422
    assert assert_429(send(here, ENROLL, sec, None)) <= 60


def test_a_prefix_keeps_deployments_apart(quiet_settings, engine, sec, redis_prefix):  # noqa: F811
    one, other = (create_app(limited_settings(quiet_settings, REDIS_URL, f"{redis_prefix}:{name}"),
                             engine=engine).test_client() for name in ("one", "other"))
    for _ in range(LIMIT):
        assert send(one, ROSTER, sec, "terminal").status_code == 200
    assert send(one, ROSTER, sec, "terminal").status_code == 429
    assert send(other, ROSTER, sec, "terminal").status_code == 200
    keys = [key.decode() for key in redis_client().scan_iter(match=f"{redis_prefix}:*")]
    assert keys and all(key.startswith((f"{redis_prefix}:one:", f"{redis_prefix}:other:")) for key in keys)


@pytest.mark.parametrize("failure", ["refused", "hung"])
def test_with_redis_failing_requests_are_answered_and_counted_in_the_process(
        failure, quiet_settings, engine, sec, relay, redis_prefix, caplog):  # noqa: F811
    """A Redis that refuses connections (its host is down) or accepts them and never answers (stuck): the
    limiter counts in this process, each request still answered (no 500, no 503), with one warning."""
    relay.down() if failure == "refused" else relay.hang()
    settings = limited_settings(quiet_settings, relay.url, redis_prefix, redis_timeout_ms=50)
    client = create_app(settings, engine=engine).test_client()
    statuses: list[int] = []

    def requests() -> None:
        for _ in range(3 * LIMIT):
            statuses.append(send(client, ROSTER, sec, "terminal").status_code)

    with caplog.at_level(logging.WARNING, logger="api.limit_counts"):
        worker = threading.Thread(target=requests)
        worker.start()
        worker.join(timeout=60)  # a bound for a hung test only: a hung Redis costs one request 50 ms
        assert not worker.is_alive(), "a failing Redis held up the requests"
    assert statuses == [200] * LIMIT + [429] * (2 * LIMIT)
    assert storage_state(client.application) == "local"
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert ("Timeout" if failure == "hung" else "ConnectionError") in warnings[0]
    assert f"127.0.0.1:{relay.port}" in warnings[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counts_are_shared_again_when_redis_answers_again(quiet_settings, relay, redis_prefix, caplog):  # noqa: F811
    clock = Clock()
    settings = limited_settings(quiet_settings, relay.url, redis_prefix)
    counts = Counts(redis_storage(settings), where="the relay", clock=clock)
    # Another worker, whose Redis never failed: it sees only what reached Redis.
    other = Counts(redis_storage(dataclasses.replace(settings, redis_url=REDIS_URL)))
    item = RateLimitItemPerMinute(LIMIT)
    with caplog.at_level(logging.INFO, logger="api.limit_counts"):
        counts.hit(item, "terminal", "T-1")
        assert counts.state == "shared"
        relay.down()
        for _ in range(LIMIT):
            counts.hit(item, "terminal", "T-1")
            clock.now += RETRY_SHARED_S  # every hit is due to ask Redis again, and each attempt fails
        assert counts.state == "local" and len(fallback_warnings(caplog)) == 1
        assert counts.wait(item, "terminal", "T-1") > 0  # the local count applies
        relay.up()
        clock.now += RETRY_SHARED_S / 2
        counts.hit(item, "terminal", "T-2")
        assert counts.state == "local"  # not asked yet: at most once every RETRY_SHARED_S
        clock.now += RETRY_SHARED_S / 2
        counts.hit(item, "terminal", "T-2")
        assert counts.state == "shared"
        assert [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
        for _ in range(LIMIT - 2):
            counts.hit(item, "terminal", "T-2")
        assert other.wait(item, "terminal", "T-2") == 0.0  # LIMIT - 1 reached Redis (the first was local)
        counts.hit(item, "terminal", "T-2")
        assert other.wait(item, "terminal", "T-2") > 0
        assert other.wait(item, "terminal", "T-1") == 0.0  # only T-1's first hit was in Redis
        relay.down()
        counts.hit(item, "terminal", "T-3")
        assert counts.state == "local" and len(fallback_warnings(caplog)) == 2  # one per switch
