"""The command line's messages in the operator's language: WALLET_LANG, else the POSIX locale, else English."""

from __future__ import annotations

import pytest

from cli import i18n


@pytest.mark.parametrize(("env", "lang"), [
    ({"WALLET_LANG": "kk", "LANG": "ru_RU.UTF-8"}, "kk"),
    ({"LANG": "ru_RU.UTF-8"}, "ru"),
    ({"LC_ALL": "C", "LANG": "ru_RU.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({}, "en"),
])
def test_language_from_the_environment(monkeypatch, env, lang):
    for name in ("WALLET_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert i18n.language() == lang


def test_messages_and_domain_errors_are_translated(monkeypatch):
    from wallet.errors import NotFound
    from wallet.messages import T_

    monkeypatch.setenv("WALLET_LANG", "ru")
    assert i18n._("the database is not at the newest migration: run `wallet migrate` first") == (
        "база данных не на последней миграции: сначала выполните `wallet migrate`")
    error = NotFound("terminal_not_found", T_("no terminal %(terminal_id)s", terminal_id="T-1"))
    assert i18n.say(error) == "нет терминала T-1" and str(error) == "no terminal T-1"
