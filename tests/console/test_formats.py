"""The console's numbers, money and times in the reader's language (api/console/formats.py, Babel): group and
decimal separators of kk, ru and en, the tenge sign everywhere, times in the school's zone."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask

from api.console import formats

NBSP = "\u00a0"


@pytest.fixture
def page():
    app = Flask(__name__)

    def in_language(lang: str):
        return app.test_request_context("/", headers={"Accept-Language": lang})

    return in_language


@pytest.mark.parametrize(("lang", "count", "amount"), [
    ("ru", f"1{NBSP}234{NBSP}567", f"1{NBSP}100{NBSP}055,00{NBSP}₸"),
    ("kk", f"1{NBSP}234{NBSP}567", f"1{NBSP}100{NBSP}055,00{NBSP}₸"),
    ("en", "1,234,567", f"1,100,055.00{NBSP}₸"),
])
def test_numbers_and_money_take_the_languages_separators(page, lang, count, amount):
    with page(lang):
        assert formats.number(1234567) == count
        assert formats.money(110005500) == amount  # tiyn
        assert formats.money(None) == formats.number(None) == "—"


def test_a_share_is_a_percentage_in_the_language(page):
    with page("ru"):
        assert formats.percent(612, 1000).replace(NBSP, " ") == "61,2 %"
        assert formats.percent(1, 0) == "—"
    with page("en"):
        assert formats.percent(612, 1000) == "61.2%"


def test_times_are_the_schools_not_utc(page):
    at = dt.datetime(2026, 12, 3, 7, 5, 9, 123456, tzinfo=dt.UTC)  # 12:05:09 in Almaty
    with page("kk"):
        assert formats.when(at, "Asia/Almaty", "time") == "12:05:09"
        assert "12:05:09" in formats.when(at) and "UTC" not in formats.when(at) and "123456" not in formats.when(at)
    with page("ru"):
        assert formats.when(at.replace(tzinfo=None), "Asia/Almaty", "time") == "12:05:09"  # naive means UTC
    with page("en"):
        assert formats.when(at, "Asia/Almaty", "time").replace("\u202f", " ") == "12:05:09 PM"
