"""The meal sheet against the reconciliation and against a computation in plain Python, on the seeded
random months of test_reconciliation_totals (price change mid-month, two zones, month edges in the school's
zone, duplicates, unknown pupils, late uploads, voids across months), and as of a month's close."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict

import pytest
from sqlalchemy import select

from tests.integration.test_reconciliation_totals import MONTH, NOW, OPERATOR, build, local, record_month
from tests.reconciliation_world import void
from wallet.keys import load_signing_key
from wallet.models import Enrollment, LedgerEntry
from wallet.reconciliation.periods import close_period
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import write
from wallet.reports.meal_sheet import meal_sheet, sheet_document


def sheets(session_factory, gen, month=MONTH, class_name=None):
    out = {}
    with session_factory() as session:
        for school in gen.schools:
            scope = resolve_scope(session, OPERATOR, school=school.bin)
            out[school.id] = meal_sheet(session, scope, month, class_name, now=NOW)
    return out


def python_cells(session_factory, school_id):
    """Net billable meals and amount per (pupil, class, day, meal type), entry by entry."""
    with session_factory() as s:
        entries = list(s.scalars(select(LedgerEntry).where(
            LedgerEntry.school_id == school_id, LedgerEntry.serving_day >= MONTH.first_day,
            LedgerEntry.serving_day <= MONTH.last_day, LedgerEntry.student_id.is_not(None))))
        enrollments = list(s.scalars(select(Enrollment).where(Enrollment.school_id == school_id)))

    def class_of(sid, day):
        found = sorted((en for en in enrollments if en.student_id == sid and en.valid_from <= day
                        and (en.valid_to is None or day <= en.valid_to)), key=lambda en: en.valid_from)
        return found[-1].class_name if found else None

    cells: dict[tuple, Counter] = defaultdict(Counter)
    for e in entries:
        cell = cells[(e.student_id, class_of(e.student_id, e.serving_day), e.serving_day, e.meal_type)]
        if e.verdict == "billable":
            sign = 1 if e.kind == "meal" else -1
            cell["meals"] += sign
            cell["amount"] += sign * e.price_tiyn
        elif e.kind == "meal":
            cell["refused"] += 1
    return {k: (c["meals"], c["amount"], c["refused"]) for k, c in cells.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_sheet_agrees_with_the_reconciliation_to_the_tiyn(session_factory, seed):
    gen = build(session_factory, seed)
    record_month(session_factory, gen, seed)
    with session_factory() as session:
        rec = reconcile(session, resolve_scope(session, OPERATOR, region="KZ-75"), MONTH, now=NOW)
    got = sheets(session_factory, gen)
    for school in gen.schools:
        sheet = got[school.id]
        lines = [ln for ln in rec.lines if ln.school_id == school.id]
        assert sheet.total.amount == sum(ln.net_amount for ln in lines)
        assert sheet.total.meals == sum(ln.net_meals for ln in lines)
        want = {(ln.supplier_id, ln.category, ln.meal_type): (ln.net_meals, ln.net_amount)
                for ln in lines if ln.net_meals or ln.net_amount}
        assert {(ln.supplier_id, ln.category, ln.meal_type): (ln.meals, ln.amount) for ln in sheet.lines
                if ln.meals or ln.amount} == want
        cells = {k: (f.meals, f.amount, f.refused) for k, f in sheet.cells.items()}
        assert cells == python_cells(session_factory, school.id)
        # Totals per pupil, per day and per class add up to the same figure.
        assert sum(f.amount for f in sheet.per_pupil.values()) == sheet.total.amount
        assert sum(f.amount for f in sheet.per_day.values()) == sheet.total.amount
        assert sum(f.amount for f in sheet.per_class.values()) == sheet.total.amount
        # Every pupil enrolled at the school in the month has a row, and every cell has a column.
        assert {p.student_id for p in sheet.pupils} >= set(gen.students[school.id]) - {None}
        assert {(day, meal) for _, _, day, meal in sheet.cells} <= set(sheet.columns)
        assert all(MONTH.first_day <= day <= MONTH.last_day for day, _ in sheet.columns)
    # The month's edges in the school's zone: 00:05 on the 1st of the next month is not on this sheet.
    a = gen.schools[0]
    with session_factory() as s:
        edge = s.scalars(select(LedgerEntry).where(
            LedgerEntry.school_id == a.id,
            LedgerEntry.served_at == local(gen.zones[a.id], MONTH.next().first_day, 0, 5))).one()
    assert not any(k[0] == edge.student_id and k[2] == MONTH.next().first_day for k in got[a.id].cells)


def test_one_class_and_a_class_without_pupils(session_factory):
    gen = build(session_factory, 5)
    record_month(session_factory, gen, 5)
    everything = sheets(session_factory, gen)
    one = sheets(session_factory, gen, class_name="2A")
    for school in gen.schools:
        assert one[school.id].total.amount == everything[school.id].per_class["2A"].amount
    empty = sheets(session_factory, gen, class_name="9Z")[gen.schools[0].id]
    assert empty.pupils == [] and empty.total.amount == 0 and empty.lines == []
    for fmt in ("csv", "json", "xlsx"):
        assert b"".join(write(sheet_document(empty), fmt))


def test_a_closed_month_sheet_is_reproducible_byte_for_byte(session_factory, settings):
    gen = build(session_factory, 6)
    record_month(session_factory, gen, 6)
    a = gen.schools[0]
    zone = gen.zones[a.id]
    closed_at = local(zone, MONTH.next().first_day + dt.timedelta(days=2), 9)
    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", MONTH, load_signing_key(settings), now=closed_at)

    def files():
        sheet = sheets(session_factory, gen)[a.id]
        return sheet, {fmt: b"".join(write(sheet_document(sheet), fmt)) for fmt in ("csv", "json", "xlsx")}

    before, first = files()
    assert before.as_of.closed and before.generated_at == closed_at
    # After the close: a late meal for the closed month and a void of one of its billable meals.
    arrival = local(zone, MONTH.next().first_day + dt.timedelta(days=5), 10)
    gen.recorders[a.id].meals([(gen.students[a.id][0], local(zone, dt.date(2026, 3, 20), 12), "lunch"),
                               (str(uuid.uuid4()), local(zone, dt.date(2026, 3, 20), 12), "lunch")],
                              received_at=arrival)
    with session_factory() as s:
        victim = s.scalars(select(LedgerEntry.id).where(
            LedgerEntry.school_id == a.id, LedgerEntry.verdict == "billable", LedgerEntry.kind == "meal",
            LedgerEntry.serving_day <= MONTH.last_day, LedgerEntry.serving_day >= MONTH.first_day,
            LedgerEntry.id.not_in(select(LedgerEntry.refers_to).where(LedgerEntry.refers_to.is_not(None))))
            .limit(1)).one()
    void(session_factory, victim, arrival)
    after, second = files()
    assert second == first
    with session_factory() as session:
        rec = reconcile(session, resolve_scope(session, OPERATOR, school=a.bin), MONTH, now=NOW)
    assert after.total.amount == rec.totals.net_amount
