"""The lifecycle table: every listed transition is allowed, every other pair and reason is refused."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.errors import InvalidInput
from wallet.models import VOUCHER_STATUSES
from wallet.vouchers.lifecycle import (
    FINAL_STATUSES,
    REASONS,
    TRANSITIONS,
    TransitionNotAllowed,
    allowed,
    check_transition,
)
from wallet.vouchers.years import parse_school_year, school_year_of

ALL_PAIRS = list(itertools.product(VOUCHER_STATUSES, VOUCHER_STATUSES))


@pytest.mark.parametrize(("edge", "reason"), [(e, r) for e, rs in TRANSITIONS.items() for r in sorted(rs)])
def test_every_listed_transition_is_allowed(edge: tuple[str, str], reason: str) -> None:
    check_transition(*edge, reason)


@pytest.mark.parametrize("edge", [p for p in ALL_PAIRS if p not in TRANSITIONS])
def test_every_unlisted_pair_is_refused_for_every_reason(edge: tuple[str, str]) -> None:
    for reason in sorted(REASONS):
        with pytest.raises(TransitionNotAllowed) as info:
            check_transition(*edge, reason)
        assert info.value.code == "voucher_transition_not_allowed"


@given(st.sampled_from(VOUCHER_STATUSES), st.sampled_from(VOUCHER_STATUSES), st.text(max_size=20))
def test_allowed_only_with_a_listed_reason(a: str, b: str, reason: str) -> None:
    assert allowed(a, b, reason) == (reason in TRANSITIONS.get((a, b), frozenset()))


def test_final_statuses_lead_nowhere_and_everything_live_can_end() -> None:
    for status in FINAL_STATUSES:
        assert not any(a == status for a, _ in TRANSITIONS)
    for status in set(VOUCHER_STATUSES) - set(FINAL_STATUSES):
        assert (status, "expired") in TRANSITIONS


def test_school_years() -> None:
    assert parse_school_year("2026-2027") == (dt.date(2026, 9, 1), dt.date(2027, 5, 31))
    assert school_year_of(dt.date(2026, 11, 30)) == "2026-2027"
    assert school_year_of(dt.date(2027, 5, 31)) == "2026-2027"
    assert school_year_of(dt.date(2027, 6, 1)) == "2027-2028"
    for bad in ("2026-2028", "2026/2027", "", "26-27", "2026-2027 "):
        with pytest.raises(InvalidInput):
            parse_school_year(bad)
