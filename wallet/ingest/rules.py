"""The verdict on one meal event, from facts gathered about it. Pure: no database, no clock.

Every rule that fails adds its reason code; the event is billable only when none fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from wallet.evidence.windows import OUTSIDE_SERVING_WINDOW
from wallet.qr.reasons import QR_REASON_CODES, VOUCHER_NOT_ACTIVE

UNKNOWN_STUDENT = "unknown_student"
NOT_ENROLLED = "not_enrolled"
NOT_ELIGIBLE = "not_eligible"
DUPLICATE_MEAL = "duplicate_meal"
NOT_SERVING_DAY = "not_serving_day"
CLOCK_OUT_OF_BOUNDS = "device_clock_out_of_bounds"
PERIOD_CLOSED = "period_closed"
NO_CONTRACT_PRICE = "no_contract_price"

REASON_CODES = (
    UNKNOWN_STUDENT, NOT_ENROLLED, NOT_ELIGIBLE, DUPLICATE_MEAL, NOT_SERVING_DAY, CLOCK_OUT_OF_BOUNDS,
    PERIOD_CLOSED, NO_CONTRACT_PRICE, *QR_REASON_CODES, OUTSIDE_SERVING_WINDOW,
)

# A device may stamp a meal a little after it says it sent the batch (clock jitter), not more.
FUTURE_SLACK = dt.timedelta(seconds=60)

# servedAt farther than this from the time the service receives the batch, either side, is no reading of a
# clock the rules can use: the event is refused as invalid (nothing stored) instead of judged. A year covers
# a terminal left offline over the summer holidays; past it, every month the meal could be billed in is
# closed, and dates such as 0001-01-01 or 9999-12-31 never reach the ledger (docs/decisions.md).
SERVED_AT_WINDOW = dt.timedelta(days=366)


def served_at_problem(served_at: dt.datetime, received_at: dt.datetime) -> str | None:
    """Why servedAt cannot be judged (out of bounds), or None."""
    if served_at < received_at - SERVED_AT_WINDOW:
        return f"more than {SERVED_AT_WINDOW.days} days before the batch was received"
    if served_at > received_at + SERVED_AT_WINDOW:
        return f"more than {SERVED_AT_WINDOW.days} days after the batch was received"
    return None


@dataclass(frozen=True)
class Facts:
    student_known: bool
    enrolled: bool
    category: str | None
    day_kind: str | None
    already_served: bool
    period_closed: bool
    clock_offset: dt.timedelta
    served_after_sent: dt.timedelta
    price_tiyn: int | None
    # Reason codes from a QR token's checks (wallet.qr.ingest); empty for meals without a token.
    qr_problems: tuple[str, ...] = ()
    # The programme's voucher rule for a meal without a token (wallet.vouchers.programme); a QR meal is
    # judged on its token's voucher instead (qr_problems).
    voucher_covered: bool = True
    # servedAt in the local time the school serves this meal type (wallet.evidence.windows).
    in_window: bool = True


@dataclass(frozen=True)
class Verdict:
    billable: bool
    reasons: tuple[str, ...]
    price_tiyn: int

    @property
    def name(self) -> str:
        return "billable" if self.billable else "not_billable"


def clock_ok(facts: Facts, tolerance: dt.timedelta) -> bool:
    return abs(facts.clock_offset) <= tolerance and facts.served_after_sent <= FUTURE_SLACK


def decide(facts: Facts, *, clock_tolerance: dt.timedelta) -> Verdict:
    reasons: list[str] = []
    if not clock_ok(facts, clock_tolerance):
        reasons.append(CLOCK_OUT_OF_BOUNDS)
    if facts.period_closed:
        reasons.append(PERIOD_CLOSED)
    if facts.day_kind != "serving":
        reasons.append(NOT_SERVING_DAY)
    if not facts.in_window:
        reasons.append(OUTSIDE_SERVING_WINDOW)
    if not facts.student_known:
        reasons.append(UNKNOWN_STUDENT)
    else:
        if not facts.enrolled:
            reasons.append(NOT_ENROLLED)
        if facts.category is None:
            reasons.append(NOT_ELIGIBLE)
        elif facts.price_tiyn is None:
            reasons.append(NO_CONTRACT_PRICE)
        if facts.category is not None and not facts.voucher_covered and VOUCHER_NOT_ACTIVE not in facts.qr_problems:
            reasons.append(VOUCHER_NOT_ACTIVE)
        if facts.already_served:
            reasons.append(DUPLICATE_MEAL)
    reasons.extend(facts.qr_problems)
    if reasons:
        return Verdict(False, tuple(reasons), 0)
    assert facts.price_tiyn is not None
    return Verdict(True, (), facts.price_tiyn)
