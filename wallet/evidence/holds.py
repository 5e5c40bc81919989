"""Held and withheld money: billable meals under findings.

A billable meal (not voided) linked to a finding without a ruling is **held**; linked only to ruled findings
of which one was upheld, **withheld**; otherwise paid. Findings and rulings are append-only, so the holds are
a function of the highest finding and ruling ids taken into account (`HoldMark`): a document that names the
mark is reproducible to the byte, and changes only when a finding or a ruling is added.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from wallet.db import one_of
from wallet.models import Finding, FindingEntry, FindingRuling, LedgerEntry


@dataclass(frozen=True)
class HoldMark:
    finding_id: int
    ruling_id: int

    @property
    def label(self) -> str:
        return f"findings<={self.finding_id},rulings<={self.ruling_id}"


@dataclass
class Held:
    held_meals: int = 0
    held: int = 0  # tiyn
    withheld_meals: int = 0
    withheld: int = 0


def current_mark(session: Session) -> HoldMark:
    return HoldMark(int(session.scalar(select(func.max(Finding.id))) or 0),
                    int(session.scalar(select(func.max(FindingRuling.id))) or 0))


def entry_states(session: Session, school_ids: Iterable[int], month: str, mark: HoldMark) -> dict[int, str]:
    """entry id -> "held" | "withheld" for the month's doubted billable meals of these schools."""
    ids = list(school_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(FindingEntry.entry_id, FindingRuling.outcome)
        .join(Finding, Finding.id == FindingEntry.finding_id)
        .outerjoin(FindingRuling, (FindingRuling.finding_id == Finding.id) & (FindingRuling.id <= mark.ruling_id))
        .where(Finding.id <= mark.finding_id, Finding.billing_month == month, one_of(session, Finding.school_id, ids))
    )
    states: dict[int, str] = {}
    for entry_id, outcome in rows:
        if outcome is None:
            states[entry_id] = "held"
        elif outcome == "upheld" and states.get(entry_id) != "held":
            states[entry_id] = "withheld"
    return states


def held_by_key(session: Session, school_ids: Iterable[int], month: str, mark: HoldMark
                ) -> dict[tuple[int | None, int, str | None, str], Held]:
    """(contract id, school id, category, meal type) -> held and withheld meals and tiyn."""
    states = entry_states(session, school_ids, month, mark)
    out: dict[tuple[int | None, int, str | None, str], Held] = defaultdict(Held)
    if not states:
        return out
    void = aliased(LedgerEntry)
    voided = set(session.scalars(select(void.refers_to).where(
        void.kind == "void", one_of(session, void.refers_to, states))))
    ids = [i for i in states if i not in voided]
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for entry_id, contract_id, school_id, category, meal_type, price in session.execute(
            select(LedgerEntry.id, LedgerEntry.contract_id, LedgerEntry.school_id, LedgerEntry.category_code,
                   LedgerEntry.meal_type, LedgerEntry.price_tiyn)
            .where(one_of(session, LedgerEntry.id, chunk), LedgerEntry.verdict == "billable")):
            line = out[(contract_id, school_id, category, meal_type)]
            if states[entry_id] == "held":
                line.held_meals += 1
                line.held += price
            else:
                line.withheld_meals += 1
                line.withheld += price
    return out


def held_of_pupils(session: Session, school_ids: Iterable[int], month: str, mark: HoldMark,
                   pupils: set[uuid.UUID] | None) -> tuple[int, int]:
    """Held and withheld tiyn of the month's doubted billable meals of these pupils (None: every pupil)."""
    states = entry_states(session, school_ids, month, mark)
    if not states:
        return 0, 0
    void = aliased(LedgerEntry)
    voided = set(session.scalars(select(void.refers_to).where(
        void.kind == "void", one_of(session, void.refers_to, states))))
    held = withheld = 0
    for entry_id, student_id, price in session.execute(
        select(LedgerEntry.id, LedgerEntry.student_id, LedgerEntry.price_tiyn).where(
            one_of(session, LedgerEntry.id, states), LedgerEntry.verdict == "billable")):
        if entry_id in voided or (pupils is not None and student_id not in pupils):
            continue
        if states[entry_id] == "held":
            held += price
        else:
            withheld += price
    return held, withheld


def held_meals_by_day(session: Session, school_id: int, month: str, mark: HoldMark, up_to: int
                      ) -> dict[dt.date, tuple[int, int]]:
    """serving day -> (held, withheld) billable meals of the school, counting only its entries (and voids)
    up to chain position `up_to` (a checkpoint's size), so the figures are a function of that checkpoint and
    the mark: the open data's held counts (wallet.witnessing.open_data)."""
    states = entry_states(session, [school_id], month, mark)
    out: dict[dt.date, tuple[int, int]] = {}
    if not states:
        return out
    void = aliased(LedgerEntry)
    voided = set(session.scalars(select(void.refers_to).where(
        void.kind == "void", void.school_id == school_id, void.position <= up_to,
        one_of(session, void.refers_to, states))))
    counts: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for entry_id, day in session.execute(
        select(LedgerEntry.id, LedgerEntry.serving_day).where(
            one_of(session, LedgerEntry.id, states), LedgerEntry.school_id == school_id,
            LedgerEntry.kind == "meal", LedgerEntry.verdict == "billable", LedgerEntry.position <= up_to)):
        if entry_id not in voided:
            counts[day][0 if states[entry_id] == "held" else 1] += 1
    return {day: (held, withheld) for day, (held, withheld) in counts.items()}
