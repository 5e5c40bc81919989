"""Counted words that read naturally: "1 meal", "2 meals"; in Russian "1 приём", "3 приёма", "5 приёмов".

Plural categories as CLDR defines them for the project's three languages: English one/other; Russian
one/few/many by the last one and two digits; Kazakh keeps the noun singular after a numeral ("5 тамақ"), so
one form serves every number.
"""

from __future__ import annotations

from collections.abc import Sequence


def plural_index(n: int, lang: str) -> int:
    """Which of a word's forms goes with `n`: en (one, other); ru (one, few, many); kk (one)."""
    n = abs(n)
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return 0
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return 1
        return 2
    if lang == "kk":
        return 0
    return 0 if n == 1 else 1


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
