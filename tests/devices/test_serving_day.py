"""The simulated canteen's clock (devices/serving_day.py): meals in the school's own serving window, in the
school's zone whatever the host's zone, and what a restarted demo remembers of the day."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from devices.serving_day import EARLY, LIVE, REPLAY, CanteenBook, meal_time, mode

ALMATY = ZoneInfo("Asia/Almaty")


def _at(hour: int, minute: int = 0) -> dt.datetime:
    """A UTC instant given as the school's local time on 3 December 2026."""
    return dt.datetime(2026, 12, 3, hour, minute, tzinfo=ALMATY).astimezone(dt.UTC)


def test_after_the_window_meals_are_spread_over_it_in_order_and_never_late():
    now, rng = _at(16, 20), random.Random(1)
    assert mode("lunch", now, ALMATY) == REPLAY
    times = [meal_time("lunch", now, ALMATY, k / 100, rng) for k in range(101)]
    local = [t.astimezone(ALMATY) for t in times if t is not None]
    assert len(local) == 101
    assert all(dt.time(12, 0) <= t.time() < dt.time(14, 0) and t.date() == dt.date(2026, 12, 3) for t in local)
    assert local[0] < local[50] < local[100]
    assert all(t <= now for t in times if t is not None)


def test_the_window_is_the_schools_whatever_zone_the_instant_is_given_in():
    # 11:20 UTC is 16:20 in Almaty: past lunch there, however the host's clock is set.
    now = dt.datetime(2026, 12, 3, 11, 20, tzinfo=dt.UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    assert mode("lunch", now, ALMATY) == REPLAY
    stamped = meal_time("lunch", now, ALMATY, 0.5, random.Random(2))
    assert stamped is not None and stamped.astimezone(ALMATY).hour in (12, 13)


def test_while_the_window_is_open_or_still_to_come_meals_are_stamped_live():
    assert mode("lunch", _at(12, 30), ALMATY) == LIVE and meal_time("lunch", _at(12, 30), ALMATY, 0.5,
                                                                     random.Random(3)) is None
    assert mode("lunch", _at(7, 0), ALMATY) == EARLY and meal_time("lunch", _at(7, 0), ALMATY, 0.5,
                                                                    random.Random(3)) is None


def test_the_book_remembers_the_day_and_forgets_it_the_next(tmp_path):
    path = tmp_path / "canteen.json"
    CanteenBook(path).save("2026-12-03", "010640000002", {"lunch": {"b", "a"}})
    again = CanteenBook(path)
    assert again.served("010640000002", "2026-12-03") == {"lunch": {"a", "b"}}
    assert again.served("010640000002", "2026-12-04") == {} and again.served("999", "2026-12-03") == {}
    path.write_text("not json")
    assert CanteenBook(path).served("010640000002", "2026-12-03") == {}
