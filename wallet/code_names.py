"""Names people read for data codes the console shows (allergens, eligibility categories, kinds of day), as
msgids of the gettext catalogs (wallet/catalogs.py). The codes stay as they are in the data, JSON and CSV."""

from __future__ import annotations

import datetime as dt

from wallet.messages import N_

ALLERGEN_NAMES: dict[str, str] = {
    "gluten": N_("gluten"), "crustaceans": N_("crustaceans"), "eggs": N_("eggs"), "fish": N_("fish"),
    "peanuts": N_("peanuts"), "soy": N_("soy"), "milk": N_("milk"), "nuts": N_("tree nuts"),
    "celery": N_("celery"), "mustard": N_("mustard"), "sesame": N_("sesame"), "sulphites": N_("sulphites"),
    "lupin": N_("lupin"), "molluscs": N_("molluscs"),
}
CATEGORY_NAMES: dict[str, str] = {
    "primary_grades": N_("primary grades"), "orphan": N_("orphan or without parental care"),
    "social_assistance": N_("family on social assistance"), "low_income": N_("low-income family"),
    "large_family": N_("large family"),
}
# A calendar's `holiday` is any day without school; a Saturday or Sunday is shown as a weekend, not as a
# vacation or public holiday (the day's note says which holiday it is). tests/unit/test_catalogs.py checks
# that every allergen and category code has its name.
DAY_KIND_NAMES: dict[str, str] = {
    "serving": N_("serving day"), "holiday": N_("holiday"), "weekend": N_("weekend"),
    "closure": N_("closure"),
}

CODES: dict[str, str] = {**ALLERGEN_NAMES, **CATEGORY_NAMES, **DAY_KIND_NAMES}


def day_kind(kind: str | None, day: dt.date) -> str | None:
    """The code whose name the calendar shows for a day: `weekend` for a holiday on Saturday or Sunday."""
    if kind == "holiday" and day.weekday() >= 5:
        return "weekend"
    return kind
