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
    for key, words in texts._T.items():
        assert len(words) == 3 and all(w.strip() for w in words), key


@pytest.mark.parametrize(("lang", "word"), [("kk", "Кіру"), ("ru", "Войти"), ("en", "Sign in")])
def test_pages_follow_the_readers_language(console, lang, word):
    page = console.get("/console/sign-in", headers={"Accept-Language": lang})
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and word in html and page.headers["Content-Language"] == lang
