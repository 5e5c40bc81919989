"""The rules' codes, their parameters and their plain explanations.

An explanation is a gettext message (English msgid, kk and ru in wallet/translations/) with named
placeholders filled from the finding's evidence figures, so the words are translated once, in the catalogs,
and the figures come from the evidence that is stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from wallet.catalogs import translate
from wallet.messages import N_

ABSENT_BUT_BILLED = "absent_but_billed"
WEAK_IDENTIFICATION_SHARE = "weak_identification_share"
SERVING_RATE = "serving_rate"
CLONED_DEVICE = "cloned_device"
TWO_SCHOOLS_ONE_DAY = "two_schools_one_day"
DAY_LATER_CLOSED = "day_later_closed"
ABOVE_ENROLLED_PRESENT = "above_enrolled_present"
PARENT_DISPUTE = "parent_dispute"

RULES = (ABSENT_BUT_BILLED, WEAK_IDENTIFICATION_SHARE, SERVING_RATE, CLONED_DEVICE, TWO_SCHOOLS_ONE_DAY,
         DAY_LATER_CLOSED, ABOVE_ENROLLED_PRESENT, PARENT_DISPUTE)
# Run as each batch is appended (wallet.evidence.on_append); the others by `wallet findings scan`.
ON_APPEND_RULES = (ABSENT_BUT_BILLED,)

# Identification strength by method: a parent-made dynamic QR over a card over a roster pick or manual entry.
STRENGTH = {"qr": "strong", "card": "medium", "roster": "weak", "manual": "weak"}
MANUAL_REASONS = ("card_forgotten", "card_broken", "phone_unavailable", "terminal_fault", "new_pupil", "other")


@dataclass(frozen=True)
class Parameters:
    """The rules' thresholds; every finding stores the ones it was found with."""

    weak_share: float = 0.5          # share of weak identifications on a day above which its weak meals flag
    weak_min_meals: int = 20         # ... counted only on days with at least this many billable meals
    min_gap_s: int = 3               # two meals of one serving line closer than this are implausible
    max_per_minute: int = 15         # more meals than this in any 60 s of one terminal is implausible
    clock_jump_s: int = 120          # by device_seq, servedAt going back more than this: two clocks

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# The explanations, one msgid a rule (the English text; kk and ru in the catalogs), filled from the finding's
# evidence figures by name. The figures come from the evidence that is stored, the words from the catalog of
# the reader's language.
EXPLANATIONS: dict[str, str] = {
    ABSENT_BUT_BILLED: N_("A billable meal on %(day)s for a pupil the class journal marks absent."),
    WEAK_IDENTIFICATION_SHARE: N_(
        "On %(day)s, %(weak)s of %(meals)s billable meals were identified weakly (roster or "
        "manual), above the threshold of %(threshold)s."
    ),
    SERVING_RATE: N_(
        "Terminal %(terminal)s recorded %(meals)s meals on %(day)s faster than a serving line can "
        "serve (closest gap %(min_gap_s)s s, at most %(peak_per_minute)s a minute)."
    ),
    CLONED_DEVICE: N_(
        "Terminal %(terminal)s sent sequence numbers whose times run backwards on %(day)s "
        "(%(jumps)s times, up to %(max_jump_s)s s): two devices with one key, or two clocks."
    ),
    TWO_SCHOOLS_ONE_DAY: N_("The same pupil was billed at %(schools)s schools on %(day)s."),
    DAY_LATER_CLOSED: N_(
        "%(meals)s billable meals on %(day)s, a day later declared %(kind)s (notified "
        "%(notified_at)s)."
    ),
    ABOVE_ENROLLED_PRESENT: N_(
        "%(meals)s billable %(meal_type)s meals on %(day)s, above the %(present)s pupils enrolled "
        "and present."
    ),
    PARENT_DISPUTE: N_("A parent says the child did not eat this meal on %(day)s."),
}


def explain(rule: str, figures: dict[str, Any], lang: str) -> str:
    """The rule's explanation in `lang` (kk, ru, en; Russian for another), filled from the evidence's figures."""
    text = translate(EXPLANATIONS[rule], lang)
    try:
        return text % figures
    except (KeyError, TypeError, ValueError):  # a figure missing from old evidence: the words without figures
        return text
