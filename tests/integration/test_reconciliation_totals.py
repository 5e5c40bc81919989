"""Reconciliation totals against an independent computation in plain Python, over seeded random months.

Each seed builds a region of two schools (one with a price change in the middle of the month, the other
with another supplier), pupils with overlapping grounds, enrollments and eligibility that start or end
inside the month, holidays and closures, and meals at the edges of the month in the school's time zone,
duplicates, unknown pupils, late uploads and voids across months; everything is recorded through the
real ingest. The expected figures are then computed here, entry by entry and day by day, without SQL.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import a_bin, an_iin
from tests.reconciliation_world import Recorder, void
from wallet.categories import CATEGORY_PRIORITY
from wallet.ingest.rules import REASON_CODES
from wallet.keys import load_signing_key
from wallet.ledger.totals import check
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    LedgerEntry,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
)
from wallet.months import Month
from wallet.principals import Principal
from wallet.reconciliation.exports import reconciliation_document
from wallet.reconciliation.periods import close_period
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import write

MONTH = Month(2026, 3)  # fixed: a past month with a weekend on its first days and 31 days
OPERATOR = Principal("op", "operator")
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@dataclass
class Generated:
    schools: list[School]
    zones: dict[int, str]
    students: dict[int, list[uuid.UUID]] = field(default_factory=dict)
    recorders: dict[int, Recorder] = field(default_factory=dict)


def local(zone: str, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(zone)).astimezone(dt.UTC)


def build(session_factory, seed: int) -> Generated:
    rng = random.Random(seed)
    first, last = MONTH.first_day, MONTH.last_day
    with session_factory() as s:
        region = Region(code="KZ-75", name_kk="Алматы", name_ru="Алматы")
        s.add(region)
        s.flush()
        a = School(bin=a_bin(11), name_kk="A", name_ru="A", region_id=region.id, timezone="Asia/Almaty")
        b = School(bin=a_bin(12), name_kk="B", name_ru="B", region_id=region.id, timezone="Asia/Aqtobe")
        s1, s2 = Supplier(bin=a_bin(13), name="S1"), Supplier(bin=a_bin(14), name="S2")
        s.add_all([a, b, s1, s2])
        s.flush()
        year = (dt.date(2025, 9, 1), dt.date(2026, 8, 31))
        change = first + dt.timedelta(days=14)  # new prices from the 15th at school A

        def contract(number, school, supplier, start, end, factor):
            c = Contract(number=number, school_id=school.id, supplier_id=supplier.id, valid_from=start, valid_to=end)
            c.prices = [ContractPrice(meal_type=m, category_code=cat, price_tiyn=p * factor)
                        for m, p in (("breakfast", 400), ("lunch", 900))
                        for cat in ("primary_grades", "social_assistance")]
            s.add(c)

        contract(f"A1-{seed}", a, s1, year[0], change - dt.timedelta(days=1), 100)
        contract(f"A2-{seed}", a, s1, change, year[1], 110)
        contract(f"B1-{seed}", b, s2, year[0], year[1], 95)
        generated = Generated(schools=[a, b], zones={a.id: a.timezone, b.id: b.timezone})
        for school in (a, b):
            ids = []
            for n in range(10):
                sid = uuid.uuid4()
                s.add(Student(id=sid, iin=an_iin(dt.date(2017, 1, 1) + dt.timedelta(days=school.id * 40 + n)),
                              last_name="T", first_name="S"))
                s.flush()
                enrolled_from = rng.choice([year[0], year[0], first + dt.timedelta(days=rng.randrange(28))])
                enrolled_to = rng.choice([None, None, None, first + dt.timedelta(days=rng.randrange(10, 31))])
                if enrolled_to is not None and enrolled_to < enrolled_from:
                    enrolled_to = None
                s.add(Enrollment(student_id=sid, school_id=school.id, grade=2, class_name="2A",
                                 valid_from=enrolled_from, valid_to=enrolled_to))
                grounds = rng.choice([["primary_grades"], ["primary_grades"], ["social_assistance"],
                                      ["primary_grades", "social_assistance"], [],
                                      ["social_assistance", "orphan", "primary_grades"]])
                for code in grounds:
                    start = rng.choice([year[0], first + dt.timedelta(days=rng.randrange(31))])
                    end = rng.choice([year[1], first + dt.timedelta(days=rng.randrange(31))])
                    if start <= end:
                        s.add(StudentEligibility(student_id=sid, category_code=code, valid_from=start, valid_to=end))
                ids.append(sid)
            generated.students[school.id] = ids
            for n in range(-2, (last - first).days + 3):
                day = first + dt.timedelta(days=n)
                kind = "serving" if day.weekday() < 5 else "holiday"
                if day.day in (8, 9) and school is a:
                    kind = "closure"
                s.add(CalendarDay(school_id=school.id, day=day, kind=kind))
        s.commit()
    for school in generated.schools:
        generated.recorders[school.id] = Recorder(session_factory, school, f"T-{seed}-{school.id}")
    return generated


def record_month(session_factory, gen: Generated, seed: int) -> None:
    rng = random.Random(seed * 7919)
    first, last = MONTH.first_day, MONTH.last_day
    billable_ids: list[int] = []
    for school in gen.schools:
        zone = gen.zones[school.id]
        recorder = gen.recorders[school.id]
        pupils = gen.students[school.id]
        # The edges of the month in the school's zone: a minute after midnight on the 1st of the next month
        # is in April there although it is still March in UTC; the last evening of March is March.
        recorder.meals([(pupils[0], local(zone, first, 0, 5), "breakfast"),
                        (pupils[1], local(zone, last, 23, 55), "lunch"),
                        (pupils[2], local(zone, last + dt.timedelta(days=1), 0, 5), "lunch"),
                        (pupils[3], local(zone, first - dt.timedelta(days=1), 23, 55), "lunch")],
                       received_at=local(zone, last + dt.timedelta(days=1), 8))
        for day in (first + dt.timedelta(days=n) for n in range(31)):
            served = []
            for pupil in rng.sample(pupils, rng.randrange(3, 9)):
                for meal_type in rng.sample(["breakfast", "lunch"], rng.randrange(1, 3)):
                    served.append((pupil, local(zone, day, 8 if meal_type == "breakfast" else 12, rng.randrange(60)),
                                   meal_type))
            if rng.random() < 0.3:  # a second lunch
                served.append((served[0][0], served[0][1] + dt.timedelta(minutes=30), served[0][2]))
            if rng.random() < 0.2:
                served.append((str(uuid.uuid4()), local(zone, day, 12), "lunch"))  # unknown pupil
            if not served:
                continue
            delay = rng.choice([dt.timedelta(hours=4)] * 5 + [dt.timedelta(days=rng.randrange(1, 9))])
            if rng.random() < 0.1:
                recorder.skip(rng.randrange(1, 3))  # lost events
            ids = recorder.meals(served, received_at=max(at for _, at, _ in served) + delay)
            billable_ids += ids
    with session_factory() as s:
        billable = list(s.scalars(select(LedgerEntry.id).where(LedgerEntry.verdict == "billable",
                                                              LedgerEntry.kind == "meal")))
    for entry_id in rng.sample(billable, min(6, len(billable))):
        # Voids within the month and in the following one (the month is still open: it counts there).
        void(session_factory, entry_id, local("Asia/Almaty", first + dt.timedelta(days=rng.randrange(5, 40)), 9))


def assert_totals_and_entries_agree(session_factory, *months: Month) -> None:
    """The derived totals equal a fresh aggregation of the entries, and each month reconciles the same
    through them as through the entries."""
    with session_factory() as session:
        assert check(session) == []
        scope = resolve_scope(session, OPERATOR, region="KZ-75")
        for month in months:
            fast = reconcile(session, scope, month, now=NOW)
            slow = reconcile(session, scope, month, now=NOW, from_entries=True)
            assert fast == slow
            assert b"".join(write(reconciliation_document(fast), "json")) == b"".join(
                write(reconciliation_document(slow), "json"))


# --- the independent computation -------------------------------------------------------------------------


def expected(session_factory, gen: Generated, today: dt.date):
    with session_factory() as s:
        entries = list(s.scalars(select(LedgerEntry).where(LedgerEntry.serving_day >= MONTH.first_day,
                                                           LedgerEntry.serving_day <= MONTH.last_day)))
        everything = list(s.scalars(select(LedgerEntry)))
        contracts = list(s.scalars(select(Contract)))
        prices = {(p.contract_id, p.meal_type, p.category_code): p.price_tiyn for p in s.scalars(select(ContractPrice))}
        enrollments = list(s.scalars(select(Enrollment)))
        eligibility = list(s.scalars(select(StudentEligibility)))
        calendar = {(c.school_id, c.day): c.kind for c in s.scalars(select(CalendarDay))}
    supplier_of_contract = {c.id: c.supplier_id for c in contracts}

    def covering(school_id, day):
        found = [c for c in contracts if c.school_id == school_id and c.valid_from <= day <= c.valid_to]
        return found[0] if found else None

    lines: dict[tuple, Counter] = defaultdict(Counter)
    per_day: dict[tuple, Counter] = defaultdict(Counter)
    per_child: dict[tuple, Counter] = defaultdict(Counter)
    for e in entries:
        zone = ZoneInfo(gen.zones[e.school_id])
        contract = e.contract_id if e.contract_id else (covering(e.school_id, e.serving_day) or Contract(id=None)).id
        key = (e.school_id, supplier_of_contract.get(contract), e.category_code, e.meal_type)
        line = lines[key]
        billable = e.verdict == "billable"
        late = e.received_at.astimezone(zone).date() > e.serving_day
        if e.kind == "meal":
            line["attempts"] += 1
            per_day[(e.school_id, e.serving_day)]["attempts"] += 1
            if billable:
                line["meals"] += 1
                line["amount"] += e.price_tiyn
                line["late_billable"] += late
                per_day[(e.school_id, e.serving_day)]["net"] += 1
            else:
                line["refused"] += 1
                for reason in e.reason_list:
                    line[f"r_{reason}"] += 1
            line["late"] += late
        elif billable:
            line["voids"] += 1
            line["void_amount"] += e.price_tiyn
            per_day[(e.school_id, e.serving_day)]["net"] -= 1
        if e.student_id is not None:
            child = per_child[(e.school_id, str(e.student_id), e.serving_day, e.meal_type)]
            if billable:
                child["net"] += 1 if e.kind == "meal" else -1
            elif e.kind == "meal":
                child["dup"] += "duplicate_meal" in e.reason_list
                child["ne"] += "not_enrolled" in e.reason_list

    # The ceiling, day by day and child by child, with the ingest's priority of grounds.
    for school in gen.schools:
        for day in MONTH.days():
            if calendar.get((school.id, day)) != "serving":
                continue
            contract = covering(school.id, day)
            if contract is None:
                continue
            for sid in gen.students[school.id]:
                if not any(en.student_id == sid and en.school_id == school.id and en.valid_from <= day and (
                        en.valid_to is None or day <= en.valid_to) for en in enrollments):
                    continue
                grounds = {el.category_code for el in eligibility
                           if el.student_id == sid and el.valid_from <= day <= el.valid_to}
                if not grounds:
                    continue
                category = min(grounds, key=lambda c: (CATEGORY_PRIORITY.index(c), c))
                for meal_type in ("breakfast", "lunch", "snack"):
                    if (contract.id, meal_type, category) in prices:
                        lines[(school.id, contract.supplier_id, category, meal_type)]["ceiling"] += 1

    days = set()
    for (school_id, day), counts in per_day.items():
        if calendar.get((school_id, day)) != "serving" and counts["attempts"]:
            days.add((school_id, day, "meals_on_non_serving_day"))
    for school in gen.schools:
        for day in MONTH.days():
            if calendar.get((school.id, day)) == "serving" and day < today and per_day[(school.id, day)]["net"] <= 0:
                days.add((school.id, day, "no_meals_on_serving_day"))

    gaps = set()
    for school in gen.schools:
        terminal = gen.recorders[school.id].terminal_id
        month_seqs = sorted(e.device_seq for e in entries if e.terminal_id == terminal)
        if not month_seqs:
            continue
        all_seqs = {e.device_seq for e in everything if e.terminal_id == terminal}
        previous = max((q for q in all_seqs if q < month_seqs[0]), default=0)
        missing = [q for q in range(previous + 1, month_seqs[-1] + 1) if q not in all_seqs]
        runs: list[list[int]] = []
        for q in missing:
            if runs and runs[-1][1] == q - 1:
                runs[-1][1] = q
            else:
                runs.append([q, q])
        gaps |= {(school.id, terminal, a, b) for a, b in runs}

    children = set()
    for (school_id, sid, day, meal_type), c in per_child.items():
        if c["net"] > 1:
            children.add((school_id, sid, day, meal_type, "billed_twice", c["net"]))
        if c["dup"]:
            children.add((school_id, sid, day, meal_type, "repeated_meal_attempts", c["dup"]))
        if c["ne"]:
            children.add((school_id, sid, day, meal_type, "not_enrolled_attempts", c["ne"]))
    return lines, days, gaps, children


def figures(line) -> dict[str, int]:
    values = {"attempts": line.attempts, "meals": line.meals, "amount": line.amount, "voids": line.voids,
              "void_amount": line.void_amount, "refused": line.refused, "late": line.late,
              "late_billable": line.late_billable, "ceiling": line.ceiling}
    values.update({f"r_{code}": line.refused_by_reason.get(code, 0) for code in REASON_CODES})
    return {k: v for k, v in values.items() if v}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_totals_match_an_independent_computation(session_factory, seed):
    gen = build(session_factory, seed)
    record_month(session_factory, gen, seed)
    with session_factory() as session:
        scope = resolve_scope(session, OPERATOR, region="KZ-75")
        rec = reconcile(session, scope, MONTH, now=NOW)
    lines, days, gaps, children = expected(session_factory, gen, today=NOW.date())
    got = {(ln.school_id, ln.supplier_id, ln.category, ln.meal_type): figures(ln) for ln in rec.lines}
    want = {key: dict(+counter) for key, counter in lines.items() if +counter}
    assert got == want
    total = rec.totals
    assert total.meals == sum(c["meals"] for c in lines.values())
    assert total.net_amount == sum(c["amount"] - c["void_amount"] for c in lines.values())
    assert total.refused_by_reason == {code: sum(c[f"r_{code}"] for c in lines.values()) for code in REASON_CODES}
    assert total.late == sum(c["late"] for c in lines.values())
    assert total.ceiling == sum(c["ceiling"] for c in lines.values())
    assert {(d.school_id, d.day, d.anomaly) for d in rec.days} == days
    assert {(g.school_id, g.terminal_id, g.first_missing, g.last_missing) for g in rec.gaps} == gaps
    assert {(c.school_id, c.student_id, c.day, c.meal_type, c.anomaly, c.entries) for c in rec.children} == children
    assert total.attempts == sum(c["attempts"] for c in lines.values())
    # The data exercise what they should: both price levels at school A, voids, late meals, refusals.
    with session_factory() as s:
        a_prices = set(s.scalars(select(LedgerEntry.price_tiyn).where(
            LedgerEntry.school_id == gen.schools[0].id, LedgerEntry.verdict == "billable",
            LedgerEntry.meal_type == "lunch", LedgerEntry.serving_day >= MONTH.first_day,
            LedgerEntry.serving_day <= MONTH.last_day)))
        edges = {e.served_at: e.serving_day for e in s.scalars(select(LedgerEntry).where(
            LedgerEntry.served_at.in_([local("Asia/Almaty", MONTH.last_day + dt.timedelta(days=1), 0, 5),
                                       local("Asia/Almaty", MONTH.last_day, 23, 55)])))}
    assert {d for d in a_prices if d} >= {900 * 100, 900 * 110}
    assert total.voids and total.late and total.refused and rec.days and rec.children
    # The month's edges in the school's zone: 00:05 on the 1st of the next month is still the last day of
    # this month in UTC, but it is served in the next month; 23:55 on the last day is this month.
    assert sorted(edges.values()) == [MONTH.last_day, MONTH.next().first_day]
    assert min(edges).date() == max(edges).date() == MONTH.last_day  # the same UTC date
    assert_totals_and_entries_agree(session_factory, MONTH, MONTH.next(), Month(2026, 2))


def test_a_closed_month_is_frozen_and_late_events_become_adjustments(session_factory, settings):
    gen = build(session_factory, 4)
    record_month(session_factory, gen, 4)
    a = gen.schools[0]
    zone = gen.zones[a.id]
    key = load_signing_key(settings)
    closed_at = local(zone, MONTH.next().first_day + dt.timedelta(days=2), 9)

    def snapshot(month):
        with session_factory() as session:
            scope = resolve_scope(session, OPERATOR, region="KZ-75")
            rec = reconcile(session, scope, month, now=NOW)
            return rec, {fmt: b"".join(write(reconciliation_document(rec), fmt)) for fmt in ("csv", "json", "xlsx")}

    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", MONTH, key, now=closed_at)
    before, files = snapshot(MONTH)
    assert before.as_of.closed and before.generated_at == closed_at

    # After the close, in the next month: late meals for the closed month (one pupil twice), a meal that is
    # refused for another reason too, and voids of billable meals of the closed month.
    pupils = gen.students[a.id]
    recorder = gen.recorders[a.id]
    arrival = local(zone, MONTH.next().first_day + dt.timedelta(days=5), 10)
    served_day = dt.date(MONTH.year, MONTH.month, 20)  # a Friday: a serving day
    with session_factory() as s:
        slots = {(e.student_id, e.meal_type) for e in s.scalars(select(LedgerEntry).where(
            LedgerEntry.school_id == a.id, LedgerEntry.serving_day == served_day, LedgerEntry.verdict == "billable"))}
        enrolled = {en.student_id for en in s.scalars(select(Enrollment).where(
            Enrollment.valid_from <= served_day)) if en.valid_to is None or en.valid_to >= served_day}
        eligible = {el.student_id: el.category_code for el in s.scalars(select(StudentEligibility).where(
            StudentEligibility.valid_from <= served_day, StudentEligibility.valid_to >= served_day))}
    free = next(p for p in pupils if (p, "lunch") not in slots and p in enrolled and p in eligible)
    late_ids = recorder.meals([(free, local(zone, served_day, 12), "lunch"),
                               (free, local(zone, served_day, 12, 30), "lunch"),
                               (str(uuid.uuid4()), local(zone, served_day, 12), "lunch")], received_at=arrival)
    with session_factory() as s:
        late = [s.get(LedgerEntry, i) for i in late_ids]
        to_void = list(s.scalars(select(LedgerEntry).where(
            LedgerEntry.school_id == a.id, LedgerEntry.kind == "meal", LedgerEntry.verdict == "billable",
            LedgerEntry.serving_day >= MONTH.first_day, LedgerEntry.serving_day <= MONTH.last_day,
            LedgerEntry.id.not_in(select(LedgerEntry.refers_to).where(LedgerEntry.refers_to.is_not(None))))
            .order_by(LedgerEntry.id).limit(2)))
    assert [e.reasons for e in late] == ["period_closed", "period_closed", "period_closed,unknown_student"]
    for e in to_void:
        void(session_factory, e.id, arrival + dt.timedelta(hours=1))

    _, files_after = snapshot(MONTH)
    assert files_after == files  # byte for byte
    # The late appends went into the totals too; the closed month is still read from the entries as of its
    # close, and the next (open) month reads the same through the totals as through the entries.
    assert_totals_and_entries_agree(session_factory, MONTH.next())
    following, _ = snapshot(MONTH.next())
    lunch_price = {100: 900 * 100, 110: 900 * 110}
    category = eligible[free]
    with session_factory() as s:
        contract = s.scalars(select(Contract).where(Contract.school_id == a.id, Contract.valid_from <= served_day,
                                                    Contract.valid_to >= served_day)).one()
        price = s.scalar(select(ContractPrice.price_tiyn).where(
            ContractPrice.contract_id == contract.id, ContractPrice.meal_type == "lunch",
            ContractPrice.category_code == category))
    assert price in lunch_price.values()
    got = {(x.school_id, x.category, x.meal_type, x.serving_month): (x.meals, x.meal_amount, x.voids, x.void_amount)
           for x in following.adjustments}
    want: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    want[(a.id, category, "lunch", str(MONTH))][:2] = [1, price]
    for e in to_void:
        row = want[(a.id, e.category_code, e.meal_type, str(MONTH))]
        row[2] += 1
        row[3] += e.price_tiyn
    assert got == {k: tuple(v) for k, v in want.items()}
    assert following.totals.adjustment_amount == price - sum(e.price_tiyn for e in to_void)
    assert following.totals.payable == following.totals.net_amount + following.totals.adjustment_amount
