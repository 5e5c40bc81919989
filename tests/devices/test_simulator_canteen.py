"""The simulated canteen serves a school day as a real one does: each entitled pupil once per meal, the meals
in order, and nothing more once everyone has eaten (so a long demo does not fill the ledger with refusals)."""

from __future__ import annotations

import random

from devices.serving_day import CanteenBook
from devices.simulator import Canteen, _meal_order, _open, _pick


def _roster(serving: bool = True) -> dict:
    return {
        "isServingDay": serving,
        "students": [
            {"studentId": "a", "mealTypes": ["breakfast", "lunch"] if serving else []},
            {"studentId": "b", "mealTypes": ["lunch"] if serving else []},
            {"studentId": "c", "mealTypes": []},
        ],
    }


def _serve_until_done(canteen: Canteen, roster: dict, rng: random.Random) -> list[tuple[str, str]]:
    served = []
    for _ in range(1000):
        meal = canteen.current_meal(roster)
        if meal is None:
            return served
        student = _pick(rng, roster, canteen, meal)
        canteen.serve(meal, student)
        served.append((meal, student))
    raise AssertionError("the canteen never finished the day")


def test_meals_come_in_the_days_order_from_the_first_one():
    assert _meal_order("breakfast") == ["breakfast", "lunch", "snack"]
    assert _meal_order("lunch") == ["lunch", "snack"]
    assert _meal_order("dinner") == ["dinner"]


def test_every_entitled_pupil_eats_each_meal_and_then_the_day_is_over():
    roster, rng = _roster(), random.Random(3)
    canteen = Canteen(_meal_order("breakfast"))
    served = _serve_until_done(canteen, roster, rng)
    assert canteen.served["breakfast"] >= {"a"} and canteen.served["lunch"] >= {"a", "b"}
    assert "snack" not in canteen.served  # nobody is entitled to a snack here
    meals = [meal for meal, _ in served]
    assert meals == sorted(meals, key=["breakfast", "lunch"].index), "a later meal came before an earlier one"
    assert canteen.current_meal(roster) is None


def test_on_a_day_without_service_each_pupil_is_tried_once_per_meal():
    roster, rng = _roster(serving=False), random.Random(5)
    canteen = Canteen(_meal_order("lunch"))
    _serve_until_done(canteen, roster, rng)
    assert canteen.served == {"lunch": {"a", "b", "c"}, "snack": {"a", "b", "c"}}


def test_a_canteen_opened_again_the_same_day_serves_only_the_pupils_still_waiting(tmp_path):
    roster = {**_roster(), "servingDay": "2026-12-03"}
    book = CanteenBook(tmp_path / "canteen.json")
    book.save("2026-12-03", "010640000002", {"lunch": {"a"}})
    lines: list[str] = []
    canteen = _open(CanteenBook(tmp_path / "canteen.json"), roster, "010640000002", "lunch", lines.append)
    assert canteen.waiting(roster, "lunch") == ["b"] and "1 meal served earlier today" in lines[0]
    canteen.serve("lunch", "b")
    book.save("2026-12-03", "010640000002", canteen.served)
    lines.clear()
    done = _open(CanteenBook(tmp_path / "canteen.json"), roster, "010640000002", "lunch", lines.append)
    assert done.current_meal(roster) is None and "nothing is left to serve today" in lines[0]
    tomorrow = _open(CanteenBook(tmp_path / "canteen.json"), {**roster, "servingDay": "2026-12-04"},
                     "010640000002", "lunch", lines.append)
    assert tomorrow.served == {}
