"""Serving windows (issue 16, item 1): property tests in real zones (Kazakhstan is UTC+5 without DST since
1 March 2024) and with shifts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.evidence.windows import Window, format_minutes, inside, local_minute, parse_hhmm, windows_for

ZONES = ["Asia/Almaty", "Asia/Aqtobe", "Asia/Oral", "Asia/Qostanay"]
instants = st.datetimes(min_value=dt.datetime(2024, 3, 2), max_value=dt.datetime(2030, 12, 31),
                        timezones=st.just(dt.UTC))
minutes = st.integers(min_value=0, max_value=1440)


@st.composite
def windows(draw, meal_type: str = "lunch") -> Window:  # type: ignore[no-untyped-def]
    start = draw(st.integers(min_value=0, max_value=1439))
    end = draw(st.integers(min_value=start + 1, max_value=1440))
    return Window(meal_type, draw(st.integers(min_value=1, max_value=3)), start, end)


@given(instants, st.sampled_from(ZONES), windows())
def test_a_window_is_local_time_at_utc_plus_five_without_dst(at, zone, window) -> None:
    fixed = at + dt.timedelta(hours=5)  # every Kazakh zone is UTC+5 since March 2024, all year
    minute = fixed.hour * 60 + fixed.minute
    assert local_minute(at, ZoneInfo(zone)) == minute
    assert inside([window], at, ZoneInfo(zone)) is (window.start_minute <= minute < window.end_minute)


@given(instants, st.lists(windows(), min_size=1, max_size=3))
def test_two_shifts_are_a_union(at, shifts) -> None:
    zone = ZoneInfo("Asia/Almaty")
    assert inside(shifts, at, zone) is any(inside([w], at, zone) for w in shifts)


@given(instants, windows())
def test_the_same_instant_is_judged_in_the_schools_own_zone(at, window) -> None:
    # A school in a zone three hours west sees the same instant three hours earlier on its clock.
    west = ZoneInfo("Europe/Moscow")  # UTC+3 all year since 2014
    moscow = at + dt.timedelta(hours=3)
    assert inside([window], at, west) is (window.start_minute <= moscow.hour * 60 + moscow.minute < window.end_minute)


@given(minutes)
def test_hhmm_round_trips(minute) -> None:
    assert parse_hhmm(format_minutes(minute)) == minute


@pytest.mark.parametrize("text", ["7:00", "24:01", "12:60", "noon", "", "12:00:00"])
def test_bad_times_are_refused(text) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


def test_a_schools_own_rows_replace_the_defaults_per_meal_type() -> None:
    own = [Window("lunch", 1, 600, 660), Window("lunch", 2, 840, 900)]
    defaults = [Window("lunch", 1, 0, 1440), Window("breakfast", 1, 420, 630)]
    assert windows_for(own, defaults, "lunch") == own
    assert windows_for(own, defaults, "breakfast") == [defaults[1]]
    assert windows_for(own, defaults, "snack") == []
    assert inside([], dt.datetime(2026, 12, 3, 21, tzinfo=dt.UTC), ZoneInfo("Asia/Almaty"))  # no window: any time
