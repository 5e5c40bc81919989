"""Property tests for the serving-rate and cloned-device rules (issue 16, item 4): pure functions on rows."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from wallet.evidence import codes
from wallet.evidence.scan_rules import MealRow, cloned_device, serving_rate

P = codes.Parameters()
ALMATY = ZoneInfo("Asia/Almaty")
START = dt.datetime(2026, 11, 5, 11, 0, tzinfo=ALMATY)


def rows(offsets: list[float], *, seqs: list[int] | None = None) -> list[MealRow]:
    return [MealRow(i + 1, 1, 1, "T-1", (seqs[i] if seqs else i + 1), uuid.uuid4(), "lunch", "card",
                    (START + dt.timedelta(seconds=o)).astimezone(dt.UTC), START.date(), True)
            for i, o in enumerate(offsets)]


def _times(gaps: list[float]) -> list[float]:
    out, t = [], 0.0
    for g in gaps:
        t += g
        out.append(t)
    return out


# Gaps of at least 4 s keep every 60 s to at most 15 meals only when they average 4 s or more; use >= 4.1.
honest_gaps = st.lists(st.floats(min_value=4.1, max_value=300), min_size=1, max_size=120)


@given(honest_gaps)
def test_an_honest_line_is_never_flagged(gaps) -> None:
    assert serving_rate(rows(_times(gaps)), P) == []


@given(honest_gaps, st.integers(min_value=0), st.floats(min_value=0, max_value=2.9))
def test_two_meals_closer_than_the_minimum_gap_are_flagged(gaps, where, close) -> None:
    times = _times(gaps)
    at = where % len(times)
    times.insert(at + 1, times[at] + close)
    [found] = serving_rate(rows(sorted(times)), P)
    assert found.rule == codes.SERVING_RATE and found.figures["min_gap_s"] < P.min_gap_s
    assert len(found.entry_ids) >= 2


@given(st.integers(min_value=P.max_per_minute + 1, max_value=60))
def test_more_than_the_sustained_rate_in_a_minute_is_flagged(n) -> None:
    spacing = 59.0 / n  # n meals within 60 s, each gap maybe above the minimum gap
    [found] = serving_rate(rows([i * spacing for i in range(n)]), P)
    assert found.figures["peak_per_minute"] >= n


@given(honest_gaps)
def test_one_device_numbering_in_time_is_no_clone(gaps) -> None:
    assert cloned_device(rows(_times(gaps)), P) == []


@given(honest_gaps, st.floats(min_value=P.clock_jump_s + 1, max_value=6 * 3600))
def test_a_second_run_with_an_earlier_clock_is_a_clone(gaps, behind) -> None:
    times = _times(gaps)
    clone = [times[-1] - behind]  # the next sequence number, stamped by a clock far behind
    [found] = cloned_device(rows(times + clone), P)
    assert found.figures["jumps"] == 1 and found.figures["max_jump_s"] >= P.clock_jump_s


@given(st.lists(st.floats(min_value=0, max_value=20), min_size=1, max_size=80))
def test_the_flagged_meals_are_those_of_every_window_over_the_rate(gaps) -> None:
    """Against a brute force: a meal is flagged when some 60 s window holding it has too many meals or when
    a neighbour is closer than the minimum gap."""
    made = rows(_times(gaps))
    expected: set[int] = set()
    for a in made:
        window = [b for b in made if a.served_at <= b.served_at < a.served_at + dt.timedelta(seconds=60)]
        if len(window) > P.max_per_minute:
            expected.update(b.id for b in window)
    for a, b in itertools.pairwise(made):
        if (b.served_at - a.served_at).total_seconds() < P.min_gap_s:
            expected.update((a.id, b.id))
    found = serving_rate(made, P)
    assert set(found[0].entry_ids if found else ()) == expected


def test_a_terminals_weak_share_flags_at_a_school_with_several() -> None:
    from wallet.evidence.scan_rules import weak_identification_share

    cards = [MealRow(i, 1, 1, "T-1", i, uuid.uuid4(), "lunch", "card", START.astimezone(dt.UTC), START.date(), True)
             for i in range(1, 61)]
    picks = [MealRow(i, 1, 1, "T-2", i, uuid.uuid4(), "lunch", "roster", START.astimezone(dt.UTC), START.date(), True)
             for i in range(61, 86)]
    [found] = weak_identification_share(cards + picks, P)  # the school's share is 25/85; T-2's is 25/25
    assert found.key.startswith("terminal:T-2:") and found.figures["weak"] == 25
    assert weak_identification_share(picks, P)[0].key.startswith("school:")  # one terminal: the school's day
