"""A seeded month (issue 16): honest schools with each pattern injected at a known place. Every pattern is
found with its rule code and evidence, at most 1% of honest meals are flagged, and a second scan finds
nothing new."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import uuid

import pytest
from sqlalchemy import func, select

from tests import evidence_world as ew
from wallet.evidence import codes
from wallet.evidence.scan import scan
from wallet.importing import import_file
from wallet.models import Enrollment, Finding, FindingEntry, LedgerEntry
from wallet.months import parse_month
from wallet.principals import Principal
from wallet.reconciliation.scope import resolve_scope

OPERATOR = Principal(subject="test", role="operator")


@pytest.fixture
def month_world(session_factory, tmp_path):
    world = ew.build(session_factory)
    a, b, c = world.schools
    d = world.days
    rng = random.Random(16)
    pa, pb = world.pupils[a.id], world.pupils[b.id]
    # The pupil of A who is also on B's roll (a "dead soul" at B).
    twin = pa[2]
    with session_factory() as session:
        session.add(Enrollment(student_id=twin.id, school_id=b.id, grade=2, class_name="2Б",
                               valid_from=d[0], valid_to=None))
        session.commit()
    # Journal marks known before the meals: the on-append rule.
    ew.attendance(session_factory, tmp_path, a, [(pa[0], d[1])], "early")
    planted: dict[str, list[str]] = {}
    events = {s.id: [] for s in world.schools}

    def plant(name: str, school, student, served: dt.datetime, method: str = "card", meal_type="lunch"):  # type: ignore[no-untyped-def]
        e = ew.event(world, world.terminals[school.id].id, student, served, method, meal_type=meal_type)
        events[school.id].append(e)
        planted.setdefault(name, []).append(str(e.event_id))
        return e

    for day in d:
        at = dt.datetime.combine(day, dt.time(11, 0), ew.ZONE)
        for school in world.schools:
            if school is a and day == d[1]:
                events[a.id] += ew.honest_day(world, a, day, rng, skip={pa[0].id})
                plant("absent_on_append", a, pa[0], at)
            elif school is a and day == d[2]:
                events[a.id] += ew.honest_day(world, a, day, rng, skip={pa[1].id})
                plant("absent_late_journal", a, pa[1], at)
            elif school is b and day == d[3]:
                for n, student in enumerate(pb):
                    plant("weak_share", b, student, at + dt.timedelta(seconds=40 * n), "roster")
            elif school is c and day == d[4]:
                for n, student in enumerate(world.pupils[c.id][:20]):
                    plant("serving_rate", c, student, at + dt.timedelta(seconds=n))
            elif school is a and day == d[5]:
                clones = pa[-5:]
                events[a.id] += ew.honest_day(world, a, day, rng, skip={s.id for s in clones})
                for n, student in enumerate(clones):  # a second device with the same key, its clock 3 h behind
                    plant("cloned_device", a, student, at - dt.timedelta(hours=3) + dt.timedelta(seconds=50 * n))
            elif school is a and day == d[6]:
                events[a.id] += ew.honest_day(world, a, day, rng, skip={twin.id})
                plant("two_schools", a, twin, at)
            elif school is b and day == d[6]:
                events[b.id] += ew.honest_day(world, b, day, rng)
                # Breakfast at B: one meal per type a day is the verdict's rule, so only another type gets through.
                plant("two_schools", b, twin, at - dt.timedelta(hours=2), meal_type="breakfast")
            elif school is c and day == d[7]:
                for n, student in enumerate(world.pupils[c.id]):
                    plant("later_closed", c, student, at + dt.timedelta(seconds=45 * n))
            elif school is b and day == d[8]:
                for n, student in enumerate(pb):
                    plant("above_present", b, student, at + dt.timedelta(seconds=45 * n))
            else:
                events[school.id] += ew.honest_day(world, school, day, rng)
    for school in world.schools:
        verdicts = ew.post(session_factory, world.terminals[school.id], events[school.id])
        assert verdicts == ["billable"] * len(verdicts), verdicts
    # Facts learnt after the meals: a late journal, a day declared closed, pupils absent on a full day.
    ew.attendance(session_factory, tmp_path, a, [(pa[1], d[2])], "late")
    ew.attendance(session_factory, tmp_path, b, [(s, d[8]) for s in pb[:3]], "late-b")
    calendar = tmp_path / "closure.csv"
    with calendar.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["school_bin", "date", "kind", "note"])
        writer.writerow([c.bin, d[7].isoformat(), "closure", "quarantine"])
    import_file(session_factory, "calendar", calendar)
    return world, planted


def _entry_ids(session, event_ids):  # type: ignore[no-untyped-def]
    rows = session.execute(select(LedgerEntry.event_id, LedgerEntry.id).where(LedgerEntry.event_id.in_(
        [uuid.UUID(e) for e in event_ids])))
    return {str(ev): i for ev, i in rows}


def test_every_pattern_is_found_and_honest_meals_are_not(session_factory, month_world) -> None:
    world, planted = month_world
    with session_factory() as session:
        # The on-append rule found the meal of the pupil the journal already marked absent.
        [early] = session.scalars(select(Finding).where(Finding.source == "ingest")).all()
        assert early.rule == codes.ABSENT_BUT_BILLED
        ids = _entry_ids(session, planted["absent_on_append"])
        assert json.loads(early.evidence)["entryIds"] == list(ids.values())

        scope = resolve_scope(session, OPERATOR, region=world.region.code)
        report = scan(session, scope, parse_month(world.month), now=dt.datetime.now(dt.UTC))
        session.commit()
        assert report.new_total > 0
        again = scan(session, scope, parse_month(world.month), now=dt.datetime.now(dt.UTC))
        session.commit()
        assert again.new_total == 0 and again.candidates == report.candidates

        findings = session.scalars(select(Finding)).all()
        by_rule: dict[str, list[Finding]] = {}
        for f in findings:
            by_rule.setdefault(f.rule, []).append(f)

        def found(rule: str, name: str, *, every: bool = True) -> dict:  # type: ignore[type-arg]
            wanted = set(_entry_ids(session, planted[name]).values())
            for f in by_rule.get(rule, []):
                evidence = json.loads(f.evidence)
                got = set(evidence["entryIds"])
                if (wanted <= got) if every else (got & wanted):
                    assert set(evidence) == {"entryIds", "figures", "parameters"}
                    return evidence
            seen = [json.loads(f.evidence) for f in by_rule.get(rule, [])]
            raise AssertionError(f"{rule} did not find {name}: {seen}")

        found(codes.ABSENT_BUT_BILLED, "absent_late_journal")
        weak = found(codes.WEAK_IDENTIFICATION_SHARE, "weak_share")
        assert weak["figures"]["weak"] == 30 and weak["parameters"]["weak_share"] == "0.5000"
        rate = found(codes.SERVING_RATE, "serving_rate")
        assert rate["figures"]["min_gap_s"] == 1
        clone = found(codes.CLONED_DEVICE, "cloned_device", every=False)
        assert clone["figures"]["max_jump_s"] > 3600
        two = found(codes.TWO_SCHOOLS_ONE_DAY, "two_schools")
        assert two["figures"]["schools"] == 2
        closed = found(codes.DAY_LATER_CLOSED, "later_closed")
        assert closed["figures"]["kind"] == "closure" and closed["figures"]["meals"] == 30
        above = found(codes.ABOVE_ENROLLED_PRESENT, "above_present", every=False)
        assert above["figures"] == {"day": world.days[8].isoformat(), "meal_type": "lunch", "meals": 30,
                                    "present": 28}  # 31 on B's roll (the twin too), 3 marked absent
        assert len(above["entryIds"]) == 2  # the two served last

        honest = _entry_ids(session, world.honest_event_ids)
        flagged = set(session.scalars(select(FindingEntry.entry_id)))
        honest_flagged = flagged & set(honest.values())
        assert len(honest) > 1500
        assert len(honest_flagged) <= 0.01 * len(honest), len(honest_flagged)
        assert session.scalar(select(func.count()).select_from(Finding)) == len(findings)


@pytest.mark.parametrize("parameters", [
    codes.Parameters(),
    codes.Parameters(min_gap_s=0, max_per_minute=2),  # the rate's windows alone, on honest lines too (gaps 20-70 s)
    codes.Parameters(min_gap_s=60, max_per_minute=1, clock_jump_s=1, weak_share=0.0, weak_min_meals=1),
], ids=["defaults", "windows", "everything"])
def test_the_sql_scan_finds_what_the_python_rules_find(session_factory, month_world, parameters) -> None:
    """On PostgreSQL the scan counts in SQL (wallet/evidence/scan_sql.py); it must give the Python rules'
    candidates, figure for figure, whatever the thresholds. On SQLite both calls are the Python path."""
    from wallet.evidence.scan import candidates, python_candidates

    world, _ = month_world
    month = parse_month(world.month)
    with session_factory() as session:
        ids = resolve_scope(session, OPERATOR, region=world.region.code).school_ids
        entries, found = candidates(session, ids, month, parameters)
        ref_entries, reference = python_candidates(session, ids, month, parameters)
    assert entries == ref_entries
    assert {codes.SERVING_RATE, codes.CLONED_DEVICE, codes.WEAK_IDENTIFICATION_SHARE} <= {c.rule for c in found}
    assert len(found) > 3
    assert [(c.rule, c.key, c.evidence()) for c in found] == [(c.rule, c.key, c.evidence()) for c in reference]
