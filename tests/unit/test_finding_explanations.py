"""The findings' explanations come from the gettext catalogs: one msgid a rule, translated in kk and ru."""

from __future__ import annotations

import re

import pytest

from wallet.evidence import codes

FIGURES = {"day": "2026-12-03", "weak": 12, "meals": 20, "threshold": 0.5, "terminal": "T-1", "min_gap_s": 1,
           "peak_per_minute": 40, "jumps": 3, "max_jump_s": 600, "schools": 2, "kind": "holiday",
           "notified_at": "2026-12-04", "meal_type": "lunch", "present": 18}


@pytest.mark.parametrize("rule", codes.RULES)
def test_every_rule_explains_in_each_language_with_its_figures(rule):
    texts = {lang: codes.explain(rule, FIGURES, lang) for lang in ("kk", "ru", "en")}
    assert texts["en"] == codes.EXPLANATIONS[rule] % FIGURES
    assert len(set(texts.values())) == 3  # kk and ru are translations, not the English text
    for text in texts.values():
        assert "2026-12-03" in text and "%(" not in text


def test_an_unknown_language_reads_russian_and_missing_figures_leave_the_words():
    assert codes.explain(codes.PARENT_DISPUTE, {"day": "d"}, "de") == codes.explain(codes.PARENT_DISPUTE,
                                                                                  {"day": "d"}, "ru")
    words = codes.explain(codes.SERVING_RATE, {}, "kk")
    assert re.search(r"[а-яәіңғүұқөһ]", words) and "%(terminal)s" in words
