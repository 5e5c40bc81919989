"""Every sheet and column an export writes has a name for people in kk, ru and en (api/console/export_labels.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.console.export_labels import labeller
from wallet.ingest.rules import REASON_CODES

WALLET = Path(__file__).resolve().parents[2] / "wallet"
SOURCES = [*(WALLET / "reconciliation").glob("*.py"), *(WALLET / "reports").glob("*.py")]


def _keys() -> set[str]:
    """The keys of every Column(...) and Table(...) and meta item written by the export documents."""
    text = "".join(path.read_text(encoding="utf-8") for path in SOURCES)
    keys = set(re.findall(r'(?:Column|Table)\("([A-Za-z]+)"', text))
    keys |= set(re.findall(r'\("([a-zA-Z]+)", ', text)) & {"format", "scope", "month", "closed", "closedAt",
                                                             "generatedAt", "checkpointsDigest", "schools",
                                                             "school", "schoolName", "class", "amounts", "iin",
                                                             "cells", "due"}
    return keys | {"meta", "key", "value"} | {"refused" + "".join(w.title() for w in c.split("_"))
                                             for c in REASON_CODES}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_every_key_has_a_name_in_each_language(lang):
    label = labeller(lang)
    keys = _keys()
    assert len(keys) > 80
    missing = sorted(key for key in keys if label(key) == key or not label(key))
    assert missing == []


def test_a_meal_sheets_day_column_names_its_meal_in_the_language():
    assert labeller("ru")("2026-11-03 lunch") == "2026-11-03 Обед"
    assert labeller("kk")("refusedDuplicateMeal").startswith("Бас тартулар: ")
    assert labeller("en")("somethingNew") == "somethingNew"  # an unknown key is shown, never dropped


def test_date_cells_take_the_languages_short_date():
    from api.console.export_labels import DATE_FORMAT, labeller
    from wallet.reconciliation import writers

    assert writers.DATE_FORMAT == DATE_FORMAT
    assert [labeller(lang)(DATE_FORMAT) for lang in ("kk", "ru", "en")] == ["dd.mm.yyyy", "dd.mm.yyyy", "m/d/yyyy"]
    assert writers._date_format(lambda key: key) == "yyyy-mm-dd"  # labels that do not know it: ISO
