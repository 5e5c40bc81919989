"""The gettext catalogs (wallet/translations): every text people read is in every catalog, translated for kk and
ru, with the same placeholders, and no catalog keeps a message the code no longer has."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from wallet import catalogs, code_names
from wallet.categories import CATEGORY_PRIORITY
from wallet.messages import T_, N_plural
from wallet.models.base import ALLERGENS

ROOT = Path(__file__).resolve().parents[2]
# babel.cfg's sections, as the extraction API takes them.
METHOD_MAP = [("wallet/**.py", "python"), ("api/**.py", "python"), ("cli/**.py", "python"),
              ("api/console/templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")


@pytest.fixture(scope="module")
def extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every marked text, extracted now from the source as pybabel extract does."""
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), METHOD_MAP,
                                                                     keywords=catalogs.KEYWORDS):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def _catalog(lang: str):
    with (catalogs.SOURCE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _messages(catalog) -> dict[tuple[str | None, str], object]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


def test_babel_cfg_names_the_extracted_files():
    cfg = (ROOT / "babel.cfg").read_text()
    assert [tuple(line[1:-1].split(": ")[::-1]) for line in cfg.splitlines() if line.startswith("[")] == METHOD_MAP


def test_the_template_holds_what_the_code_marks(extracted):
    with (catalogs.SOURCE / "messages.pot").open("rb") as f:
        pot = _messages(read_po(f))
    assert set(pot) == extracted, "run the pybabel extract and update commands of README, Translations"


@pytest.mark.parametrize("lang", catalogs.LANGUAGES)
def test_every_message_is_in_every_catalog_and_translated(extracted, lang):
    messages = _messages(_catalog(lang))
    missing = sorted(extracted - set(messages), key=str)
    assert not missing, f"{lang}: not in the catalog: {missing[:10]}"
    empty = sorted(str(k) for k, m in messages.items()
                   if not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    assert not empty, f"{lang}: not translated: {empty[:10]}"
    fuzzy = sorted(str(k) for k, m in messages.items() if m.fuzzy)
    assert not fuzzy, f"{lang}: fuzzy (check and clear the flag): {fuzzy[:10]}"


@pytest.mark.parametrize("lang", catalogs.LANGUAGES)
def test_catalogs_hold_no_obsolete_message(extracted, lang):
    catalog = _catalog(lang)
    stale = sorted(set(_messages(catalog)) - extracted, key=str)
    assert not stale, f"{lang}: no longer in the code: {stale[:10]}"
    assert not catalog.obsolete, f"{lang}: #~ obsolete entries: {list(catalog.obsolete)[:10]}"


@pytest.mark.parametrize("lang", catalogs.LANGUAGES)
def test_placeholders_are_the_same_in_msgid_and_msgstr(lang):
    for key, m in _messages(_catalog(lang)).items():
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == wanted, (lang, key, string)


@pytest.mark.parametrize("lang", ("kk", "ru"))
def test_kazakh_and_russian_are_not_english(lang):
    messages = _messages(_catalog(lang))
    letters = re.compile(r"[A-Za-z]{4,}")
    copied = [k for k, m in messages.items()
              if isinstance(m.string, str) and m.string == m.id and letters.search(m.id)
              and m.id not in {"gluten", "lupin"}]
    assert len(copied) <= 3, f"{lang}: copied from English: {copied}"  # OK, API, JSON-like words only


def _strings(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def test_compiled_catalogs_match_their_sources():
    folder = catalogs.directory()
    for lang in catalogs.LANGUAGES:
        with (folder / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            compiled = {key: _strings(m) for key, m in _messages(read_mo(f)).items()}
        source = {key: _strings(m) for key, m in _messages(_catalog(lang)).items()}
        assert compiled == source, lang


def test_a_sentence_and_a_count_are_translated():
    text = T_("The database is unavailable; retry later.")
    assert str(text) == "The database is unavailable; retry later."
    assert catalogs.translate(text, "ru") == "База данных недоступна; повторите попытку позже."
    nested = T_("line %(line)s: %(field)s: %(message)s", line=1, field="day",
                message=T_("a date YYYY-MM-DD"))
    assert str(nested) == "line 1: day: a date YYYY-MM-DD"
    assert catalogs.translate(nested, "ru") == "строка 1: day: дата ГГГГ-ММ-ДД"
    children = N_plural("%(num)d child", "%(num)d children")
    assert [catalogs.translate_count(children, n, "ru") for n in (1, 3, 5, 21)] == [
        "1 ребёнок", "3 ребёнка", "5 детей", "21 ребёнок"]
    assert catalogs.translate_count(children, 5, "kk") == "5 бала"
    assert catalogs.translate_count(children, 2, "en") == "2 children"


def test_every_allergen_and_category_code_has_a_name():
    assert set(code_names.ALLERGEN_NAMES) == set(ALLERGENS)
    assert set(code_names.CATEGORY_NAMES) == set(CATEGORY_PRIORITY)


def test_a_weekend_is_not_a_holiday():
    saturday, wednesday = dt.date(2026, 12, 5), dt.date(2026, 12, 16)
    assert code_names.day_kind("holiday", saturday) == "weekend"
    assert code_names.day_kind("holiday", wednesday) == "holiday"
    assert code_names.day_kind("serving", saturday) == "serving"
    assert catalogs.translate(code_names.DAY_KIND_NAMES["weekend"], "ru") == "выходной"
    assert catalogs.translate(code_names.DAY_KIND_NAMES["holiday"], "ru") != "каникулы"
