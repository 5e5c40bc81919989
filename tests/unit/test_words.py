"""Counted words (wallet/words.py): the plural form each language's rules pick."""

from __future__ import annotations

import pytest

from wallet.words import count, plural

RU = ("приём", "приёма", "приёмов")


@pytest.mark.parametrize(("n", "text"), [(0, "0 meals"), (1, "1 meal"), (2, "2 meals"), (11, "11 meals"),
                                         (21, "21 meals")])
def test_english_one_and_other(n, text):
    assert count(n, "meal") == text


def test_english_irregular_forms():
    assert count(1, ("entry", "entries")) == "1 entry" and count(7, ("entry", "entries")) == "7 entries"


@pytest.mark.parametrize(("n", "form"), [
    (1, "приём"), (21, "приём"), (101, "приём"), (2, "приёма"), (4, "приёма"), (22, "приёма"), (104, "приёма"),
    (0, "приёмов"), (5, "приёмов"), (11, "приёмов"), (12, "приёмов"), (14, "приёмов"), (111, "приёмов"),
    (112, "приёмов"), (25, "приёмов"),
])
def test_russian_one_few_many(n, form):
    assert plural(n, RU, "ru") == form


def test_kazakh_keeps_the_noun_singular_after_a_number():
    assert count(1, ("бала",), "kk") == "1 бала" and count(5, ("бала",), "kk") == "5 бала"
