"""What the cook is told at the serving line, from the roster alone (no network): whether the child eats free
on that day, and whether the meal holds one of the child's allergens.

The roster carries today and the next serving days (`week`), the calendar between them, and the allergens of
pupils whose parents declared them with consent (`allergies`, and `voucherAllergies` for QR meals, which name a
voucher, not a child). Pure functions of the roster: the agent decides what to store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLEAR, WARNING, UNKNOWN = "clear", "warning", "unknown"


@dataclass(frozen=True)
class AllergenCheck:
    status: str  # clear | warning | unknown
    allergens: tuple[str, ...] = ()  # the child's allergens found in the meal's dishes
    message: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return self.status == WARNING


NO_WARNING = AllergenCheck(CLEAR)


def day_of(roster: dict[str, Any] | None, day: str) -> dict[str, Any] | None:
    """The roster's entry for a serving day (the week's, or the roster's own day), or None."""
    if roster is None:
        return None
    for entry in roster.get("week") or []:
        if entry.get("servingDay") == day:
            return entry
    if roster.get("servingDay") == day:
        return roster
    return None


def day_kind(roster: dict[str, Any], day: str) -> str | None:
    """serving / holiday / closure from the roster's calendar; None when the roster does not reach that day."""
    for entry in roster.get("calendar") or []:
        if entry.get("day") == day:
            return entry.get("kind") or "none"
    return None


def free_meal_hint(roster: dict[str, Any] | None, student_id: str, meal_type: str, day: str) -> str | None:
    """"free meal: yes/no" or why the terminal cannot say; None when the caller must still check for a second
    meal (the pupil eats free that day)."""
    if roster is None:
        return "no roster yet: the service will decide"
    if not any(p["studentId"] == student_id for p in roster["students"]) and not _in_week(roster, student_id):
        return "not on this school's roster"
    entry = day_of(roster, day)
    if entry is None:
        kind = day_kind(roster, day)
        if kind is not None and kind != "serving":
            return f"free meal: no (not a serving day: {kind})"
        # A roster of another day says nothing about that day's entitlement (holiday, eligibility ended).
        return f"roster is from {roster.get('servingDay')}: the service will decide"
    if not entry.get("isServingDay", True):
        return "free meal: no (not a serving day)"
    pupil = next((p for p in entry["students"] if p["studentId"] == student_id), None)
    if pupil is None:
        return "not on this school's roster that day"
    if meal_type not in pupil["mealTypes"]:
        return "free meal: no"
    return None


def _in_week(roster: dict[str, Any], student_id: str) -> bool:
    return any(p["studentId"] == student_id for entry in roster.get("week") or [] for p in entry["students"])


def outlived(roster: dict[str, Any], day: str) -> bool:
    """Whether `day` is past the last day the roster speaks for, while it still holds allergen lists."""
    through = roster.get("weekThrough") or roster.get("servingDay") or ""
    return "allergies" in roster and day > through


def allergen_check(roster: dict[str, Any] | None, meal_type: str, day: str, *, student_id: str = "",
                   voucher_id: str = "") -> AllergenCheck:
    """The child's declared allergens against the dishes of that meal on that day."""
    entry = day_of(roster, day)
    if roster is not None and entry is None:
        return AllergenCheck(UNKNOWN, message=f"allergies unknown: the roster does not reach {day}")
    if roster is None or entry is None or "allergies" not in roster:
        return AllergenCheck(UNKNOWN, message="allergies unknown: this terminal has no allergen list yet")
    if student_id:
        known = any(p["studentId"] == student_id for p in entry["students"])
        if not known:
            return AllergenCheck(UNKNOWN, message="allergies unknown: pupil not on the roster (new pupil?)")
        child = roster["allergies"].get(student_id, [])
    else:
        child = (roster.get("voucherAllergies") or {}).get(voucher_id, [])
    if not child:
        return AllergenCheck(CLEAR)
    dishes = [d for m in entry.get("menu") or [] if m["mealType"] == meal_type for d in m["dishes"]]
    if not dishes:
        return AllergenCheck(UNKNOWN, message=f"allergies declared ({', '.join(child)}) but no {meal_type} menu "
                                              f"for {day}: check the dishes")
    found = [a for a in child if any(a in d.get("allergens", []) for d in dishes)]
    if not found:
        return AllergenCheck(CLEAR)
    names = sorted({d.get("nameRu") or d.get("nameEn") or "?" for d in dishes
                    if any(a in d.get("allergens", []) for a in found)})
    text = ", ".join(found)
    return AllergenCheck(WARNING, tuple(found),
                         f"ALLERGEN WARNING: contains {text} ({'; '.join(names)}); allergic to {text}")
