"""The rules' codes, their parameters and their plain explanations in kk/ru/en.

An explanation is a template filled from the finding's evidence figures (str.format names), so the words
are written once here and the figures come from the evidence that is stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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


EXPLANATIONS: dict[str, dict[str, str]] = {
    ABSENT_BUT_BILLED: {
        "en": "A billable meal on {day} for a pupil the class journal marks absent.",
        "ru": "Оплачиваемое питание {day} для ученика, отмеченного в журнале отсутствующим.",
        "kk": "{day} күні журналда жоқ деп белгіленген оқушыға төленетін тамақ.",
    },
    WEAK_IDENTIFICATION_SHARE: {
        "en": "On {day}, {weak} of {meals} billable meals were identified weakly (roster or manual), above the "
              "threshold of {threshold}.",
        "ru": "{day}: {weak} из {meals} оплачиваемых приёмов пищи с слабой идентификацией (список или вручную), "
              "выше порога {threshold}.",
        "kk": "{day}: {meals} төленетін тамақтың {weak} әлсіз сәйкестендірілген (тізім не қолмен), шегі {threshold}.",
    },
    SERVING_RATE: {
        "en": "Terminal {terminal} recorded {meals} meals on {day} faster than a serving line can serve "
              "(closest gap {min_gap_s} s, at most {peak_per_minute} a minute).",
        "ru": "Терминал {terminal} {day} записал {meals} приёмов пищи быстрее, чем может обслужить линия "
              "раздачи (мин. интервал {min_gap_s} с, до {peak_per_minute} в минуту).",
        "kk": "{terminal} терминалы {day} күні {meals} тамақты тарату желісі үлгермейтін жылдамдықпен жазды "
              "(ең аз аралық {min_gap_s} с, минутына {peak_per_minute} дейін).",
    },
    CLONED_DEVICE: {
        "en": "Terminal {terminal} sent sequence numbers whose times run backwards on {day} ({jumps} times, "
              "up to {max_jump_s} s): two devices with one key, or two clocks.",
        "ru": "Терминал {terminal} {day} прислал номера, время которых идёт назад ({jumps} раз, до "
              "{max_jump_s} с): два устройства с одним ключом или два часов.",
        "kk": "{terminal} терминалы {day} күні уақыты кері жүретін нөмірлер жіберді ({jumps} рет, {max_jump_s} с "
              "дейін): бір кілтті екі құрылғы немесе екі сағат.",
    },
    TWO_SCHOOLS_ONE_DAY: {
        "en": "The same pupil was billed at {schools} schools on {day}.",
        "ru": "Один и тот же ученик оплачен в {schools} школах {day}.",
        "kk": "Бір оқушы {day} күні {schools} мектепте төленген.",
    },
    DAY_LATER_CLOSED: {
        "en": "{meals} billable meals on {day}, a day later declared {kind} (notified {notified_at}).",
        "ru": "{meals} оплачиваемых приёмов пищи {day}, день позже объявлен как {kind} (уведомление {notified_at}).",
        "kk": "{day} күні {meals} төленетін тамақ, кейін бұл күн {kind} деп жарияланды ({notified_at}).",
    },
    ABOVE_ENROLLED_PRESENT: {
        "en": "{meals} billable {meal_type} meals on {day}, above the {present} pupils enrolled and present.",
        "ru": "{meals} оплачиваемых ({meal_type}) {day} — больше, чем {present} зачисленных и присутствующих.",
        "kk": "{day} күні {meals} төленетін тамақ ({meal_type}), тіркелген әрі қатысқан {present} оқушыдан көп.",
    },
    PARENT_DISPUTE: {
        "en": "A parent says the child did not eat this meal on {day}.",
        "ru": "Родитель сообщает, что ребёнок не получал это питание {day}.",
        "kk": "Ата-ана бала {day} күні бұл тамақты ішпегенін айтады.",
    },
}


def explain(rule: str, figures: dict[str, Any], lang: str) -> str:
    """The rule's explanation in `lang` (kk, ru, en), filled from the evidence's figures."""
    texts = EXPLANATIONS[rule]
    try:
        return texts.get(lang, texts["ru"]).format(**figures)
    except (KeyError, IndexError):  # a figure missing from old evidence: the words without the figures
        return texts.get(lang, texts["ru"])
