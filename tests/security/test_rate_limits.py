"""Rate limits (api/ratelimit.py): per terminal, per parent, per staff member, and per client address for
requests without a valid identity; 429 with Retry-After as openapi.yaml says; requests leave the window with
time; one caller's excess never limits another; a forged token never spends its victim's budget; off when
configured. Counted in this process's memory here; tests/e2e/test_shared_rate_limits.py counts in Redis.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
import time_machine
from limits import RateLimitItemPerMinute

from api import create_app
from api.limit_counts import Counts
from tests.security.routes import ROUTES, route, send
from wallet.config import ConfigError, settings_from_env

LIMIT = 5
ROSTER = route("GET /api/v1/terminal/roster")
CHILDREN = route("GET /api/v1/parent/children")
TERMINALS = route("GET /api/v1/admin/terminals")
ENROLL = route("POST /api/v1/terminal/enroll")


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The wall clock stands still (the `limits` package reads it) until the test shifts it."""
    with time_machine.travel(time.time(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def limited(quiet_settings, engine, clock):  # type: ignore[no-untyped-def]
    """The app with every limit at LIMIT requests a minute, counted in memory, and a clock the test moves."""
    settings = dataclasses.replace(quiet_settings, rate_limits_enabled=True, rate_limit_terminal_per_min=LIMIT,
                                   rate_limit_parent_per_min=LIMIT, rate_limit_staff_per_min=LIMIT,
                                   rate_limit_address_per_min=LIMIT)
    assert not settings.redis_url
    return create_app(settings, engine=engine).test_client()


def assert_429(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "rate_limited" and response.mimetype == "application/problem+json"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_a_terminal_is_limited_and_others_are_not(limited, sec, clock):
    for _ in range(LIMIT):
        assert send(limited, ROSTER, sec, "terminal").status_code == 200
    retry_after = assert_429(send(limited, ROSTER, sec, "terminal", check=True))
    assert retry_after == 60  # all LIMIT were made at this instant: the oldest leaves the window in a minute
    # Another terminal, a parent and staff on the same address are not affected.
    assert send(limited, ROSTER, sec, "terminal_b").status_code == 200
    assert send(limited, CHILDREN, sec, "parent").status_code == 200
    assert send(limited, TERMINALS, sec, "operator").status_code == 200
    clock.shift(retry_after - 1)
    assert assert_429(send(limited, ROSTER, sec, "terminal")) == 1
    clock.shift(1.01)  # a moment after Retry-After: the window holds none of them
    for _ in range(LIMIT):
        assert send(limited, ROSTER, sec, "terminal").status_code == 200
    assert_429(send(limited, ROSTER, sec, "terminal"))


def test_the_refusal_names_the_kind_of_client_in_the_readers_language(limited, sec, clock):
    for _ in range(LIMIT):
        assert send(limited, ROSTER, sec, "terminal").status_code == 200
    details = {lang: send(limited, ROSTER, sec, "terminal", headers={"Accept-Language": lang}).get_json()["detail"]
               for lang in ("kk", "ru", "en")}
    assert details["en"].startswith("Too many requests (terminal); retry in ")
    assert details["ru"].startswith("Слишком много запросов (терминал); повторите через ")
    assert details["kk"].startswith("Сұраныстар тым көп (терминал); ")


def test_a_429_spends_nothing_and_stores_nothing(limited, sec, session_factory, clock):
    from tests.security.test_bola import state

    for _ in range(LIMIT):
        send(limited, ROSTER, sec, "terminal")
    before = state(session_factory)
    events = route("POST /api/v1/terminal/events")
    for _ in range(3):
        assert_429(send(limited, events, sec, "terminal", check=True))
    assert state(session_factory) == before
    clock.shift(60.01)  # refused requests did not push the window further out
    assert send(limited, events, sec, "terminal").status_code == 200


def test_a_parent_is_limited_per_person_not_per_child_or_route(limited, sec, clock):
    routes = [r for r in ROUTES if r.audience == "parent" and r.method == "GET"]
    for n in range(LIMIT):
        assert send(limited, routes[n % len(routes)], sec, "parent").status_code == 200
    for r in routes:
        assert_429(send(limited, r, sec, "parent", check=True))
    assert send(limited, CHILDREN, sec, "other_parent").status_code == 200


def test_a_parent_out_of_budget_is_refused_on_every_parent_route_whatever_its_blueprint(limited, sec):
    """The identity a token claims is looked up in its audience's counts before the view runs, on every route
    of that audience (QR codes, vouchers and complaints live in blueprints of their own): once the parent's
    budget is spent, no route of theirs does any work."""
    for _ in range(LIMIT):
        assert send(limited, CHILDREN, sec, "parent").status_code == 200
    routes = [r for r in ROUTES if r.audience == "parent"]
    assert {r.rule.split("/")[4] for r in routes} >= {"children", "vouchers"}
    assert any(r.rule.endswith("/qr") for r in routes)
    for r in routes:
        assert_429(send(limited, r, sec, "parent", check=True))


def test_staff_are_limited_per_person(limited, sec):
    for _ in range(LIMIT):
        assert send(limited, TERMINALS, sec, "operator").status_code == 200
    assert_429(send(limited, TERMINALS, sec, "operator", check=True))
    assert send(limited, TERMINALS, sec, "auditor").status_code == 403  # another person: not limited, just refused


def test_anonymous_requests_are_limited_per_address(limited, sec):
    other = {"REMOTE_ADDR": "192.0.2.7"}
    for _ in range(LIMIT):
        assert send(limited, ENROLL, sec, None).status_code == 422  # an unknown code
    assert_429(send(limited, ENROLL, sec, None, check=True))
    assert limited.post(ENROLL.url(sec), json=ENROLL.body(sec), environ_overrides=other).status_code == 422
    # Unknown paths are counted the same way (scanners).
    assert_429(limited.get("/wp-login.php"))


def test_failed_authentication_is_counted_against_the_address_not_the_identity_it_claims(limited, sec):
    """A token that names terminal A but is signed by someone else: 401, and terminal A's budget is untouched,
    while the sender's address runs out."""
    from tests.factories import TerminalKey

    forger = TerminalKey(sec.terminal.terminal_id)  # same iss, a key the service never saw
    for _ in range(LIMIT):
        response = limited.get(ROSTER.url(sec), headers={"Authorization": f"Bearer {forger.token()}"})
        assert response.status_code == 401
    assert_429(limited.get(ROSTER.url(sec), headers={"Authorization": f"Bearer {forger.token()}"}))
    # The real terminal A, from another address, still has its whole budget.
    elsewhere = {"REMOTE_ADDR": "192.0.2.8"}
    for _ in range(LIMIT):
        assert limited.get(ROSTER.url(sec), headers=sec.headers("terminal"),
                           environ_overrides=elsewhere).status_code == 200


CONSOLE_PAGES = ["/console/", "/console/sign-in", "/console/reconciliation", "/console/schools", "/console/ledger",
                 "/console/parent", "/console/nothing-here"]


def test_a_forged_token_is_never_charged_to_the_identity_it_names(limited, sec):
    """Tokens that name a real staff member, parent and terminal but are not theirs (a broken signature,
    another key), sent to every console page (which reads its session, not the bearer header) and every API
    route: each is charged to its sender's address, so the people named keep their whole budget."""
    from tests.factories import TerminalKey

    def broken(token: str) -> str:
        return token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")

    forged = [broken(sec.token("operator")), broken(sec.token("parent")), TerminalKey(sec.terminal.terminal_id).token()]
    sent = 0
    for token in forged:
        targets = [(path, None) for path in CONSOLE_PAGES]
        targets += [(r.url(sec), r) for r in ROUTES if r.audience in ("terminal", "parent", "staff")]
        for url, r in targets:
            sent += 1  # each from an address of its own, so that no address runs out before the victims'
            method = r.method if r is not None else "GET"
            response = limited.open(url, method=method, headers={"Authorization": f"Bearer {token}"},
                                    environ_overrides={"REMOTE_ADDR": f"10.0.{sent // 250}.{sent % 250 + 1}"})
            response.close()
            assert response.status_code != 429, f"{method} {url}"
    assert sent > 3 * LIMIT
    # The people named, from their own address: every request of their budget is answered.
    own = {"REMOTE_ADDR": "203.0.113.9"}
    for who, r in (("operator", TERMINALS), ("parent", CHILDREN), ("terminal", ROSTER)):
        for _ in range(LIMIT):
            response = limited.open(r.url(sec), method=r.method, headers=sec.headers(who), environ_overrides=own)
            assert response.status_code == 200, (who, response.status_code)


def test_a_replayed_or_refused_token_is_charged_to_the_address(limited, sec):
    """A captured terminal token replayed (401 token_replayed), or a real token on a route its role may not
    use (403): the identity it names is not charged; only a request that passed authentication is."""
    token = sec.token("terminal")
    assert limited.get(ROSTER.url(sec), headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for n in range(2 * LIMIT):
        replay = limited.get(ROSTER.url(sec), headers={"Authorization": f"Bearer {token}"},
                             environ_overrides={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
        assert replay.status_code == 401
    supplier = sec.headers("supplier")
    for n in range(2 * LIMIT):
        refused = limited.get(TERMINALS.url(sec), headers=supplier,
                              environ_overrides={"REMOTE_ADDR": f"192.0.2.{n + 1}"})
        assert refused.status_code == 403
    for _ in range(LIMIT - 1):
        assert send(limited, ROSTER, sec, "terminal").status_code == 200
    assert_429(send(limited, ROSTER, sec, "terminal"))
    for _ in range(LIMIT):
        assert send(limited, route("GET /api/v1/auditor/feedback"), sec, "supplier").status_code == 200


def test_authenticated_requests_do_not_spend_the_address_budget(limited, sec):
    """Many parents behind one carrier NAT share an address: their own requests count against themselves."""
    for who in ("parent", "other_parent"):
        for _ in range(LIMIT):
            assert send(limited, CHILDREN, sec, who).status_code == 200
    assert send(limited, ENROLL, sec, None).status_code == 422  # the address still has its budget


def test_every_authenticated_view_authenticates_before_anything_else(client, sec, session_factory):
    """On every route, a token that fails verification is a 401 whatever else is wrong with the request (the
    limiter no longer relies on it: it charges only identities that authentication verified)."""
    from tests.factories import TerminalKey

    forged = {"terminal": TerminalKey(sec.terminal.terminal_id).token()}
    failures = []
    for r in ROUTES:
        if r.audience not in ("terminal", "parent", "staff"):
            continue
        real = sec.token("parent" if r.audience == "parent" else "operator")
        token = forged.get(r.audience) or real[:-8] + "AAAAAAAA"  # the signature broken
        for body in (None, b'{"not": "what this route wants"}', b"[1, 2"):
            response = send(client, r, sec, None, body=body, headers={"Authorization": f"Bearer {token}"},
                            url=r.url(sec) + ("&" if "?" in r.url(sec) else "?") + "limit=nonsense")
            if response.status_code != 401:
                failures.append(f"{r.name} with body {body!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_health_probes_are_never_limited(limited, sec):
    for _ in range(3 * LIMIT):
        assert limited.get("/healthz").status_code == 200


def test_limits_can_be_switched_off(client, sec):
    # The default test app of this folder has them off: far more than any limit, all answered.
    for _ in range(30):
        assert send(client, ROSTER, sec, "terminal").status_code == 200


def test_settings_from_the_environment():
    assert settings_from_env({}).rate_limits_enabled is True
    off = settings_from_env({"WALLET_RATE_LIMITS": "off", "WALLET_RATE_LIMIT_TERMINAL_PER_MIN": "7"})
    assert (off.rate_limits_enabled, off.rate_limit_terminal_per_min) == (False, 7)
    for bad in ({"WALLET_RATE_LIMITS": "maybe"}, {"WALLET_RATE_LIMIT_PARENT_PER_MIN": "0"},
                {"WALLET_TRUSTED_PROXIES": "-1"}, {"WALLET_MAX_JSON_DEPTH": "deep"}):
        with pytest.raises(ConfigError):
            settings_from_env(bad)


def test_redis_settings_from_the_environment():
    assert (settings_from_env({}).redis_url, settings_from_env({}).redis_prefix) == ("", "wallet")
    for url in ("redis://127.0.0.1:6379/0", "rediss://:secret@cache.example:6380/2", "redis://localhost",
                " redis://[::1]:6379 "):
        settings = settings_from_env({"WALLET_REDIS_URL": url, "WALLET_REDIS_PREFIX": "wallet:kz-1",
                                      "WALLET_REDIS_TIMEOUT_MS": "250"})
        assert (settings.redis_url, settings.redis_prefix, settings.redis_timeout_ms) == (url.strip(), "wallet:kz-1",
                                                                                          250)
        assert "secret" not in repr(settings)


@pytest.mark.parametrize(("env", "says"), [
    ({"WALLET_REDIS_URL": "http://127.0.0.1:6379"}, "redis:// or rediss://"),
    ({"WALLET_REDIS_URL": "memcached://127.0.0.1"}, "redis:// or rediss://"),
    ({"WALLET_REDIS_URL": "unix:///run/redis.sock"}, "redis:// or rediss://"),
    ({"WALLET_REDIS_URL": "127.0.0.1:6379"}, "redis:// or rediss://"),
    ({"WALLET_REDIS_URL": "localhost"}, "redis:// or rediss://"),
    ({"WALLET_REDIS_URL": "redis://"}, "must name a host"),
    ({"WALLET_REDIS_URL": "redis://:p4ss@:6379/0"}, "must name a host"),
    ({"WALLET_REDIS_URL": "redis://127.0.0.1:99999/0"}, "well-formed"),
    ({"WALLET_REDIS_URL": "redis://127.0.0.1:port"}, "well-formed"),
    ({"WALLET_REDIS_URL": "redis://127.0.0.1:6379/zero"}, "database number"),
    ({"WALLET_REDIS_PREFIX": "has space"}, "WALLET_REDIS_PREFIX"),
    ({"WALLET_REDIS_PREFIX": "x" * 65}, "WALLET_REDIS_PREFIX"),
    ({"WALLET_REDIS_PREFIX": "a*"}, "WALLET_REDIS_PREFIX"),
    ({"WALLET_REDIS_TIMEOUT_MS": "0"}, "WALLET_REDIS_TIMEOUT_MS"),
    ({"WALLET_REDIS_TIMEOUT_MS": "60000"}, "WALLET_REDIS_TIMEOUT_MS"),
    ({"WALLET_REDIS_TIMEOUT_MS": "fast"}, "WALLET_REDIS_TIMEOUT_MS"),
])
def test_bad_redis_settings_are_refused_with_a_clear_message(env, says):
    with pytest.raises(ConfigError, match=says) as refused:
        settings_from_env(env)
    assert "p4ss" not in str(refused.value)  # the URL, which may hold a password, is not repeated


def test_the_defaults_leave_room_for_a_real_terminal():
    """A terminal uploads a batch every few seconds at the busiest and fetches its roster now and then; the
    default allows 20 requests a second, sustained, per terminal."""
    defaults = settings_from_env({})
    assert defaults.rate_limit_terminal_per_min >= 600 and defaults.rate_limit_parent_per_min >= 300


def test_local_counts_forget_keys_beyond_their_bound(clock):
    """A client that varies its address cannot grow a worker's memory without bound: beyond the bound the
    expired keys are swept, and if every key is live they are forgotten (a forgotten count errs towards
    allowing)."""
    counts, item = Counts(max_local_keys=3), RateLimitItemPerMinute(2)
    for key in ("a", "b", "c"):
        counts.hit(item, "address", key)
        counts.hit(item, "address", key)
    assert counts.wait(item, "address", "a") == pytest.approx(60.0)
    counts.hit(item, "address", "d")  # the fourth live key
    assert len(counts.local_storage.events) <= 3
    assert counts.wait(item, "address", "a") == 0.0
    counts.hit(item, "address", "e")
    counts.hit(item, "address", "e")
    assert counts.wait(item, "address", "e") == pytest.approx(60.0)  # counting goes on after forgetting


def test_local_counts_sweep_once_a_second_in_a_daemon_thread():
    """The library's memory storage sweeps every key every 10 ms from a thread that a worker's exit waits for;
    api.limit_counts.MemoryCounts replaces that hook (name-mangled: if the library renames it, this fails)."""
    from limits.storage import MemoryStorage

    from api.limit_counts import MemoryCounts

    assert callable(MemoryStorage.__dict__.get("_MemoryStorage__schedule_expiry"))
    assert callable(MemoryStorage.__dict__.get("_MemoryStorage__expire_events"))
    storage = MemoryCounts()
    storage.timer.join()  # the one the constructor starts
    storage.acquire_entry("k", 5, 60)
    assert storage.timer.daemon and storage.timer.interval == MemoryCounts.SWEEP_S == 1.0
    storage.timer.cancel()


# --- the unverified claims the buckets are keyed by ---------------------------------------------------------------


def test_unverified_claims_read_a_token_as_pyjwt_does() -> None:
    import jwt

    from api.ratelimit import unverified_claims

    for claims in ({"sub": "880101300123", "exp": 2_000_000_000}, {"iss": "T-1", "sub": "тест", "n": [1, {"a": None}]}):
        token = jwt.encode(claims, "a-secret-for-this-test-only-32-bytes!", algorithm="HS256")
        assert unverified_claims(token) == jwt.decode(token, options={"verify_signature": False}) == claims


@pytest.mark.parametrize("token", [
    "", "a.b", "a.b.c.d", "eyJhbGciOiJub25lIn0..", "x.@@@@.y", "x.bm90IGpzb24.y",  # "not json"
    "x.WzEsMl0.y",  # [1,2]: JSON, but not an object
    "x.gA.y",  # one byte that is not UTF-8
])
def test_unverified_claims_of_garbage_are_none(token: str) -> None:
    from api.ratelimit import unverified_claims

    assert unverified_claims(token) is None
