"""The console speaks Kazakh, Russian and English: every word a template asks for exists in all three."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.console import texts
from wallet.ingest.rules import REASON_CODES
from wallet.models import DAY_KINDS, FEEDBACK_TAGS, MEAL_TYPES

TEMPLATES = Path(texts.__file__).parent / "templates" / "console"


def test_every_template_word_is_translated():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z0-9_]+)["']\)""", template.read_text()))
    used |= set(MEAL_TYPES) | set(DAY_KINDS) | set(FEEDBACK_TAGS) | set(REASON_CODES)
    missing = sorted(k for k in used if not texts.known(k))
    assert not missing, f"add to api/console/texts.py: {missing}"
    # Each is translated in every catalog: tests/unit/test_catalogs.py
    for lang in ("kk", "ru"):
        untranslated = sorted(k for k in used if texts.word(k, lang) == texts.word(k, "en") and k not in _SAME)
        assert not untranslated, (lang, untranslated)


# Words the same in every language (a code, a unit, a loanword).
_SAME = {"none", "run_ok", "ok", "via_api", "terminal", "export", "operator", "auditor", "quorum", "gluten", "soy",
         "lupin"}


@pytest.mark.parametrize(("lang", "word"), [("kk", "Кіру"), ("ru", "Войти"), ("en", "Sign in")])
def test_pages_follow_the_readers_language(console, lang, word):
    page = console.get("/console/sign-in", headers={"Accept-Language": lang})
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and word in html and page.headers["Content-Language"] == lang


def _calendar(html: str) -> str:
    grid = html[html.index('<ol class="calendar">'):]
    return grid[:grid.index("</ol>")]


def test_a_weekend_is_shown_as_a_weekend_not_as_a_vacation(console, world, session_factory):
    """The Russian console called every weekend "каникулы": a Saturday off is a weekend, a weekday off a
    holiday (its note says which), in the page's language."""
    import datetime as dt

    from sqlalchemy import delete

    from wallet.models import CalendarDay

    first = world.today.replace(day=1)
    saturday = first + dt.timedelta(days=(5 - first.weekday()) % 7)
    wednesday = first + dt.timedelta(days=(2 - first.weekday()) % 7)
    with session_factory() as session, session.begin():
        for day in (saturday, wednesday):
            session.execute(delete(CalendarDay).where(CalendarDay.school_id == world.school.id,
                                                      CalendarDay.day == day))
            session.add(CalendarDay(school_id=world.school.id, day=day, kind="holiday", note=None))
    console.sign_in("school_admin")
    for lang, weekend, holiday in (("ru", "выходной", "нерабочий день"), ("kk", "демалыс күні", "жұмыс емес күн"),
                                   ("en", "weekend", "holiday")):
        console.client.post("/console/language", data={"csrf_token": console.csrf(), "lang": lang})
        grid = _calendar(console.get(f"/console/schools/{world.school.bin}?day={first.isoformat()}")
                         .get_data(as_text=True))
        cells = {cell.split('<span class="n">')[1].split("<")[0]: cell for cell in grid.split("<li")[1:]
                 if '<span class="n">' in cell}
        assert f'<span class="k">{weekend}</span>' in cells[str(saturday.day)], lang
        assert f'<span class="k">{holiday}</span>' in cells[str(wednesday.day)], lang
        assert "каникулы" not in grid


def test_scopes_read_as_region_and_school_names(console, world):
    """The header and the reconciliation name a region by its name, not region:KZ-71."""
    console.sign_in("auditor")
    html = console.get("/console/reconciliation", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    who = html[html.index('class="who"'):]
    who = who[:who.index("</span>")]
    assert world.region.name_ru in who and world.region.code not in who
    crumbs = html[html.index('class="crumbs"'):]
    crumbs = crumbs[:crumbs.index("</p>")]
    assert world.region.name_ru in crumbs and "region:" not in crumbs
    console.sign_in("school_admin")
    html = console.get(f"/console/schools/{world.school.bin}", headers={"Accept-Language": "kk"}).get_data(
        as_text=True)
    who = html[html.index('class="who"'):]
    assert world.school.name_kk in who[:who.index("</span>")]
