"""Counted words that read naturally: "1 meal", "2 meals"; in Russian "1 приём", "3 приёма", "5 приёмов".

The plural category of a number is CLDR's, through Babel (`Locale.plural_form`): English one/other, Russian
one/few/many. Kazakh has one/other in CLDR but keeps the noun singular after a numeral ("5 тамақ"), so a
Kazakh word is given in one form that serves every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from babel import Locale

# The order in which a word's forms are given, by language: CLDR categories.
_FORM_ORDER = {"en": ("one", "other"), "ru": ("one", "few", "many"), "kk": ("one", "other")}


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang if lang in _FORM_ORDER else "en")


def plural_index(n: int, lang: str) -> int:
    """Which of a word's forms goes with `n`: en (one, other); ru (one, few, many); kk (one, other)."""
    order = _FORM_ORDER.get(lang, _FORM_ORDER["en"])
    category = _locale(lang).plural_form(abs(n))
    return order.index(category) if category in order else len(order) - 1


def plural(n: int, forms: str | Sequence[str], lang: str = "en") -> str:
    """The form of the word for `n`. `forms` as `plural_index` orders them; an English word given as one
    string takes an "s" (give both forms for any other: ("entry", "entries"))."""
    if isinstance(forms, str):
        forms = (forms, forms + "s") if lang == "en" else (forms,)
    return forms[min(plural_index(n, lang), len(forms) - 1)]


def count(n: int, forms: str | Sequence[str], lang: str = "en") -> str:
    """`n` and its word: count(1, "meal") == "1 meal", count(3, ("приём", "приёма", "приёмов"), "ru") ==
    "3 приёма"."""
    return f"{n} {plural(n, forms, lang)}"
