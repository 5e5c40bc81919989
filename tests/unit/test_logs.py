"""wallet/logs.py (rendering and redaction), api/request_id.py (what id a request gets) and tests/log_scan.py, the
scan that tests/conftest.py runs after every test of the suite."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.request_id import valid_request_id
from tests.log_scan import leaks_in, leaks_in_lines
from wallet import logs
from wallet.identifiers import is_valid_iin, make_iin

births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))
valid_iins = st.builds(make_iin, births, st.booleans(), st.integers(0, 9999)).filter(lambda v: v is not None)
# Twelve digits that are not an IIN (no birth date or a wrong check digit): amounts, counters, clock readings.
other_twelve_digits = st.from_regex(r"\A[0-9]{12}\Z").filter(lambda v: not is_valid_iin(v))
words = st.text(st.characters(codec="utf-8", exclude_categories=("Nd", "Cs")), max_size=20)
jwts = st.dictionaries(st.sampled_from(["sub", "iss", "aud"]), st.text(max_size=10), min_size=1).map(
    lambda claims: jwt.encode(claims, "k" * 32, algorithm="HS256"))


def _rendered(fmt: str, emit) -> str:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(fmt))
    logger = logging.getLogger("tests.unit.test_logs.rendered")
    logger.addHandler(handler)
    logger.propagate = False  # these lines leak on purpose, to show the redaction: not for the suite's scan
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


# --- the scan -------------------------------------------------------------------------------------------------

@given(iin=valid_iins, before=words, after=words)
def test_the_scan_finds_every_full_iin(iin, before, after):
    assert leaks_in(f"{before}{iin}{after}")


@given(number=other_twelve_digits, before=words, after=words)
def test_the_scan_ignores_twelve_digits_that_are_no_iin(number, before, after):
    assert not leaks_in(f"{before}{number}{after}")


@given(iin=valid_iins, head=st.uuids())
def test_the_scan_takes_no_request_id_for_an_iin(iin, head):
    """A made request id is a UUID4; about one in 300 ends in twelve digits, sometimes a valid IIN's."""
    request_id = f"{str(head)[:24]}{iin}"
    assert not leaks_in(f"request_id={request_id!r}") and not leaks_in(request_id)
    assert leaks_in(f"{str(head)[:23]}:{iin}")  # not a UUID any more: the digits count


@given(token=jwts)
def test_the_scan_finds_every_jwt_and_bearer_token(token):
    assert leaks_in(f"token {token}")
    assert leaks_in(f"Authorization: Bearer {token}")


def test_the_fixture_fails_a_test_that_logs_a_full_iin(logs_hold_no_secrets):
    """The suite's own fixture (tests/conftest.py) sees a deliberately leaking call; its records are then
    emptied, or this test would fail at teardown as any other leaking test does."""
    iin = make_iin(dt.date(2015, 3, 9), True, 42)
    logging.getLogger("api.careless").warning("looked up child %s", iin)
    logging.getLogger("api.careless").info("token", extra={"auth": "Bearer " + jwt.encode({"sub": "x"}, "k" * 32)})
    leaks = logs_hold_no_secrets.leaks()
    assert any("IIN" in leak for leak in leaks)
    assert any("JWT" in leak for leak in leaks) and any("bearer" in leak for leak in leaks)
    assert iin not in "".join(leaks)  # the report itself names no IIN
    logs_hold_no_secrets.records.clear()


def test_the_fixture_sees_a_leak_in_a_traceback(logs_hold_no_secrets):
    iin = make_iin(dt.date(2012, 1, 31), False, 7)
    try:
        raise ValueError(f"no child {iin}")
    except ValueError:
        logging.getLogger("api.careless").exception("lookup failed")
    assert logs_hold_no_secrets.leaks()
    logs_hold_no_secrets.records.clear()


def test_a_server_log_file_is_scanned_line_by_line():
    iin = make_iin(dt.date(2016, 5, 5), False, 1)
    assert leaks_in_lines(["fine", f"child {iin}"], "gunicorn-1.log") == ["gunicorn-1.log line 2: IIN " + iin[:4] + "…"]


# --- redaction, the last line of defence ------------------------------------------------------------------------

@given(iin=valid_iins, before=words, after=words, token=jwts)
def test_redaction_leaves_no_full_iin_and_no_token(iin, before, after, token):
    text = logs.redact_text(f"{before} {iin} {after} Bearer {token} {token}")
    assert iin not in text and token not in text
    assert not leaks_in(text)


@pytest.mark.parametrize("fmt", logs.FORMATS)
def test_every_rendered_line_is_redacted(fmt):
    iin, token = make_iin(dt.date(2014, 9, 1), False, 3), jwt.encode({"sub": "p"}, "k" * 32)

    def emit(logger: logging.Logger) -> None:
        logger.warning("child %s", iin, extra={"header": f"Bearer {token}", "ids": [int(iin)]})
        try:
            raise KeyError(iin)
        except KeyError:
            logger.exception("failed for %s", iin)

    text = _rendered(fmt, emit)
    assert iin not in text and token not in text and not leaks_in(text)
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines()]
        assert [line["level"] for line in lines] == ["warning", "error"]
        assert "KeyError" in lines[1]["exception"]


def test_redaction_keeps_addresses_ports_and_clock_readings():
    text = "Listening at: http://127.0.0.1:55384 (11184) at 2026-12-03 07:19:59, 120000000000 tiyn"
    assert logs.redact_text(text) == text.replace("120000000000", "1200******00")


def test_structlog_lines_carry_the_bound_request_id():
    def emit(_logger: logging.Logger) -> None:
        logs.bind_request(request_id="abc-1")
        try:
            logs.get_logger("tests.unit.test_logs.rendered").info("step", done=3)
        finally:
            logs.unbind_request()

    line = json.loads(_rendered("json", emit))
    assert line["request_id"] == "abc-1" and line["done"] == 3 and line["event"] == "step"


def test_bad_log_settings_are_refused():
    from wallet.config import ConfigError

    assert logs.from_env({}) == ("json", "INFO")
    assert logs.from_env({"WALLET_LOG_FORMAT": "Console", "WALLET_LOG_LEVEL": "debug"}) == ("console", "DEBUG")
    for env in ({"WALLET_LOG_FORMAT": "xml"}, {"WALLET_LOG_LEVEL": "LOUD"}):
        with pytest.raises(ConfigError):
            logs.from_env(env)


# --- request ids ----------------------------------------------------------------------------------------------

@given(st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z").filter(lambda v: sum(c.isdigit() for c in v) < 12))
def test_a_short_safe_request_id_is_valid(value):
    assert valid_request_id(value)


@given(st.one_of(
    st.text(min_size=65, alphabet="abc123"),
    st.text(min_size=1).filter(lambda v: any(not (c.isascii() and (c.isalnum() or c in "._:-")) for c in v)),
    valid_iins,
    st.just(""),
))
def test_a_long_unsafe_or_iin_shaped_request_id_is_refused(value):
    assert not valid_request_id(value)


GREENLETS = """
from gevent import monkey
monkey.patch_all()
import gevent
import structlog
from wallet import logs
seen = {}
def request(rid):
    logs.bind_request(request_id=rid)
    gevent.sleep(0.001)  # yields: the other greenlets bind their own ids meanwhile
    seen[rid] = structlog.contextvars.get_contextvars().get("request_id")
    logs.unbind_request()
gevent.joinall([gevent.spawn(request, f"r{n}") for n in range(50)])
print(sum(rid == bound for rid, bound in seen.items()))
"""


def test_each_greenlet_of_a_patched_process_keeps_its_own_request_id():
    """As in a gunicorn gevent worker (the standard library patched): the ids bound by fifty interleaved
    greenlets never mix (a separate process, since patching cannot be undone)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", GREENLETS], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "50"
