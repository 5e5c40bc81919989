"""What a month's reconciliation consists of: its lines, totals, adjustments and anomalies, and the comparison
with the suppliers' claims. Plain data, made by wallet.reconciliation.queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from wallet.months import Month
from wallet.reconciliation.heads import AsOf
from wallet.reconciliation.scope import Scope

RATIO_PLACES = Decimal("0.0001")


@dataclass(kw_only=True)
class Counts:
    """What is counted for each line and for the whole month."""

    meals: int = 0
    amount: int = 0
    voids: int = 0
    void_amount: int = 0
    attempts: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    late: int = 0
    late_billable: int = 0
    ceiling: int = 0

    @property
    def net_meals(self) -> int:
        return self.meals - self.voids

    @property
    def net_amount(self) -> int:
        return self.amount - self.void_amount


@dataclass
class Line(Counts):
    school_id: int
    supplier_id: int | None
    category: str | None
    meal_type: str

    @property
    def ratio(self) -> Decimal | None:
        if not self.ceiling:
            return None
        return (Decimal(self.net_meals) / Decimal(self.ceiling)).quantize(RATIO_PLACES, ROUND_HALF_EVEN)


@dataclass
class Totals(Counts):
    adjustment_meals: int = 0
    adjustment_voids: int = 0
    adjustment_amount: int = 0

    @property
    def payable(self) -> int:
        """What the month pays: its own net amount plus adjustments for closed months."""
        return self.net_amount + self.adjustment_amount


@dataclass(frozen=True)
class Adjustment:
    school_id: int
    supplier_id: int | None
    category: str | None
    meal_type: str
    serving_month: str
    meals: int
    meal_amount: int
    voids: int
    void_amount: int
    contract_id: int | None = None  # only when asked for by contract (the payment registry)

    @property
    def net_amount(self) -> int:
        return self.meal_amount - self.void_amount


@dataclass(frozen=True)
class DayAnomaly:
    school_id: int
    day: dt.date
    day_kind: str  # serving, holiday, closure, or "none" when the calendar has no row
    anomaly: str  # meals_on_non_serving_day | no_meals_on_serving_day
    attempts: int
    meals: int


@dataclass(frozen=True)
class SequenceGap:
    school_id: int
    terminal_id: str
    first_missing: int
    last_missing: int

    @property
    def missing(self) -> int:
        return self.last_missing - self.first_missing + 1


@dataclass(frozen=True, slots=True)
class ChildAnomaly:
    school_id: int
    student_id: str
    iin: str | None
    day: dt.date
    meal_type: str
    anomaly: str  # billed_twice | repeated_meal_attempts | not_enrolled_attempts
    entries: int


@dataclass(frozen=True)
class ClaimInfo:
    claim_id: int
    supplier_id: int
    version: int
    submitted_at: dt.datetime
    file_sha256: str


@dataclass(frozen=True)
class ClaimComparison:
    supplier_id: int
    school_id: int | None  # None: the supplier's total
    day: dt.date | None  # None: a school's or the supplier's total
    meal_type: str | None
    claimed_meals: int
    ledger_meals: int
    claimed_amount: int
    ledger_amount: int

    @property
    def meals_difference(self) -> int:
        return self.claimed_meals - self.ledger_meals

    @property
    def amount_difference(self) -> int:
        return self.claimed_amount - self.ledger_amount


@dataclass
class Reconciliation:
    scope: Scope
    as_of: AsOf
    generated_at: dt.datetime
    schools: dict[int, tuple[str, str]]  # id -> (bin, name)
    suppliers: dict[int, tuple[str, str]]  # id -> (bin, name)
    totals: Totals
    lines: list[Line]
    adjustments: list[Adjustment]
    days: list[DayAnomaly]
    gaps: list[SequenceGap]
    children: list[ChildAnomaly]
    claims: list[ClaimInfo]
    claim_totals: list[ClaimComparison]  # per supplier (school None) and per supplier x school
    claim_differences: list[ClaimComparison]  # per school x day x meal type where claim and ledger differ
    # Money of billable meals under findings (wallet.evidence.holds): held (open), withheld (upheld), and the
    # findings and rulings counted.
    held: tuple[int, int, str] = (0, 0, "findings<=0,rulings<=0")

    @property
    def month(self) -> Month:
        return self.as_of.month
