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


def test_the_demo_summary_reads_in_russian(monkeypatch):
    import datetime as dt

    from cli.demo import _summary
    from wallet.demo.generator import build
    from wallet.demo.participants import DemoParent

    world = build(seed=7, students=40, today=dt.date(2026, 11, 16))
    parent = DemoParent(iin="000000000000", children=3, offered=1, active=5)
    monkeypatch.setenv("WALLET_LANG", "en")
    english = _summary(world, parent)
    assert "  a parent with 3 children (1 voucher offer to answer, 5 active vouchers), to sign in as" in english[2]
    monkeypatch.setenv("WALLET_LANG", "ru")
    russian = _summary(world, parent)
    assert russian[0].startswith(f"демо-мир (seed 7) на {world.school_year}/{world.school_year + 1} учебный год")
    assert russian[1] == "Что посмотреть дальше:"
    assert russian[2].startswith("  родитель, у которого 3 ребёнка (без ответа: 1 предложение ваучера, "
                                 "5 действующих ваучеров), для входа: ИИН 000000000000")


def test_verify_history_counts_in_russian(monkeypatch):
    from cli.ledger import _CHAINS, _CHECKPOINTS, _ENTRIES

    monkeypatch.setenv("WALLET_LANG", "ru")
    assert [i18n.n_(_CHAINS, 8), i18n.n_(_ENTRIES, 1), i18n.n_(_CHECKPOINTS, 3)] == [
        "8 цепочек", "1 запись", "3 контрольные точки"]
    monkeypatch.setenv("WALLET_LANG", "en")
    assert [i18n.n_(_CHAINS, 8), i18n.n_(_ENTRIES, 1), i18n.n_(_CHECKPOINTS, 0)] == [
        "8 chains", "1 entry", "0 checkpoints"]


def test_a_cells_reason_keeps_its_message_for_the_reader(monkeypatch):
    from wallet.evidence.windows import parse_hhmm
    from wallet.importing.fields import Cells, parse_int

    cells = Cells({"from": "7.30", "count": "x"})
    cells.required("from", parse_hhmm)
    cells.required("count", lambda v: parse_int(v, 0))
    assert [e.message for e in cells.errors] == [
        "a local time HH:MM, 00:00 to 24:00", "must be a whole number, got 'x'"]
    monkeypatch.setenv("WALLET_LANG", "ru")
    assert [i18n.say(e.message) for e in cells.errors] == [
        "местное время ЧЧ:ММ, от 00:00 до 24:00", "должно быть целым числом, получено 'x'"]
