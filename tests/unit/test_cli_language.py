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


@pytest.mark.parametrize(("lang", "summary"), [
    ("en", "T-1: highest deviceSeq 40, 3 gaps"),
    ("ru", "T-1: наибольший deviceSeq 40, 3 пропуска"),
    ("kk", "T-1: ең үлкен deviceSeq 40, 3 бос аралық"),
])
def test_summaries_count_in_the_operators_language(monkeypatch, lang, summary):
    from cli.terminals import _GAPS

    monkeypatch.setenv("WALLET_LANG", lang)
    assert i18n._("%(terminal)s: highest deviceSeq %(highest)s, %(gaps)s", terminal="T-1", highest=40,
                  gaps=i18n.n_(_GAPS, 3)) == summary
    assert i18n.n_(_GAPS, 1) == {"en": "1 gap", "ru": "1 пропуск", "kk": "1 бос аралық"}[lang]
    assert i18n.n_(_GAPS, 5) == {"en": "5 gaps", "ru": "5 пропусков", "kk": "5 бос аралық"}[lang]
