"""The rules that look across a day, a terminal, a school or the region. Pure: rows in, candidates out.

Each rule gives one candidate per thing it doubts (a terminal's day, a school's day, a pupil's day), keyed so
that the same doubt is recorded once however often the scan runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wallet.evidence import codes
from wallet.evidence.findings import Candidate


@dataclass(frozen=True)
class MealRow:
    id: int
    region_id: int
    school_id: int
    terminal_id: str | None
    device_seq: int | None
    student_id: uuid.UUID | None
    meal_type: str
    method: str | None
    served_at: dt.datetime
    serving_day: dt.date
    billable: bool


def absent_but_billed(rows: Iterable[MealRow], absent: set[tuple[uuid.UUID, dt.date]],
                      p: codes.Parameters) -> list[Candidate]:
    """A billable meal of a pupil the journal marks absent that day (one candidate per meal), in the order of
    the entries (whatever order the rows were read in: the plan decides that)."""
    doubted = sorted((r for r in rows if r.billable and r.student_id is not None
                      and (r.student_id, r.serving_day) in absent), key=lambda r: r.id)
    return [Candidate(codes.ABSENT_BUT_BILLED, f"entry:{r.id}", r.region_id, r.school_id, r.serving_day,
                      {"day": r.serving_day.isoformat(), "mark": "absent"}, (r.id,))
            for r in doubted]


def weak_identification_share(rows: Iterable[MealRow], p: codes.Parameters) -> list[Candidate]:
    """A school's day, or one terminal's day at a school with several, whose share of weakly identified
    billable meals passes the threshold; the weak meals are doubted."""
    by_day: dict[tuple[int, dt.date], list[MealRow]] = defaultdict(list)
    for r in rows:
        if r.billable:
            by_day[(r.school_id, r.serving_day)].append(r)
    out = []
    for (school_id, day), meals in sorted(by_day.items()):
        groups: list[tuple[str, list[MealRow]]] = [(f"school:{school_id}:{day}", meals)]
        terminals = sorted({r.terminal_id for r in meals if r.terminal_id is not None})
        if len(terminals) > 1:
            groups += [(f"terminal:{t}:{day}", [r for r in meals if r.terminal_id == t]) for t in terminals]
        for key, group in groups:
            weak = [r for r in group if codes.STRENGTH.get(r.method or "", "weak") == "weak"]
            if len(group) >= p.weak_min_meals and len(weak) > p.weak_share * len(group):
                out.append(Candidate(codes.WEAK_IDENTIFICATION_SHARE, key, group[0].region_id, school_id, day,
                                     {"day": day.isoformat(), "weak": len(weak), "meals": len(group),
                                      "threshold": f"{p.weak_share:.2f}"}, tuple(r.id for r in weak), p.as_json()))
    return out


def _by_terminal_day(rows: Iterable[MealRow]) -> dict[tuple[str, dt.date], list[MealRow]]:
    out: dict[tuple[str, dt.date], list[MealRow]] = defaultdict(list)
    for r in rows:
        if r.terminal_id is not None:
            out[(r.terminal_id, r.serving_day)].append(r)
    return out


def serving_rate(rows: Iterable[MealRow], p: codes.Parameters) -> list[Candidate]:
    """A terminal's day with meals closer than the minimum gap, or more than the sustained rate in 60 s.
    Every attempt counts (a refused one was still a person at the counter, or was not)."""
    out = []
    for (terminal, day), meals in sorted(_by_terminal_day(rows).items()):
        meals.sort(key=lambda r: (r.served_at, r.id))
        flagged: set[int] = set()
        gaps = [(b.served_at - a.served_at).total_seconds() for a, b in itertools.pairwise(meals)]
        for i, gap in enumerate(gaps):
            if gap < p.min_gap_s:
                flagged.update((meals[i].id, meals[i + 1].id))
        peak, start, added = 0, 0, -1  # meals[:added + 1] of an over-full window are flagged already
        for end in range(len(meals)):
            while meals[end].served_at - meals[start].served_at >= dt.timedelta(seconds=60):
                start += 1
            peak = max(peak, end - start + 1)
            if end - start + 1 > p.max_per_minute:
                flagged.update(r.id for r in meals[max(start, added + 1):end + 1])
                added = end
        if flagged:
            held = tuple(r.id for r in meals if r.id in flagged and r.billable) or tuple(sorted(flagged))
            out.append(Candidate(codes.SERVING_RATE, f"terminal:{terminal}:{day}", meals[0].region_id,
                                 meals[0].school_id, day,
                                 {"day": day.isoformat(), "terminal": terminal, "meals": len(flagged),
                                  "min_gap_s": int(min(gaps)) if gaps else 0, "peak_per_minute": peak},
                                 held, p.as_json()))
    return out


def cloned_device(rows: Iterable[MealRow], p: codes.Parameters) -> list[Candidate]:
    """By device_seq, servedAt of one terminal runs backwards by more than the clock jump: one key, two
    devices (two sequence runs) or two clocks. The agent numbers events as it serves them."""
    out = []
    for (terminal, day), meals in sorted(_by_terminal_day(rows).items()):
        ordered = sorted((r for r in meals if r.device_seq is not None), key=lambda r: r.device_seq or 0)
        jumps, worst, doubted = 0, 0.0, set()
        latest = None
        for r in ordered:
            if latest is not None and (latest.served_at - r.served_at).total_seconds() > p.clock_jump_s:
                jumps += 1
                worst = max(worst, (latest.served_at - r.served_at).total_seconds())
                doubted.update((latest.id, r.id))
            if latest is None or r.served_at > latest.served_at:
                latest = r
        if jumps:
            out.append(Candidate(codes.CLONED_DEVICE, f"terminal:{terminal}:{day}", meals[0].region_id,
                                 meals[0].school_id, day, {"day": day.isoformat(), "terminal": terminal,
                                                           "jumps": jumps, "max_jump_s": int(worst)},
                                 tuple(sorted(doubted)), p.as_json()))
    return out


def two_schools_one_day(rows: Iterable[MealRow], p: codes.Parameters) -> list[Candidate]:
    """One pupil billable at two or more schools on one day (every such meal is doubted)."""
    billable = [r for r in rows if r.billable and r.student_id is not None]
    first_school: dict[tuple[uuid.UUID | None, dt.date], int] = {}
    doubted: set[tuple[uuid.UUID | None, dt.date]] = set()
    for r in billable:  # one pass; only the rare pupils-days at two schools are gathered and sorted
        if first_school.setdefault((r.student_id, r.serving_day), r.school_id) != r.school_id:
            doubted.add((r.student_id, r.serving_day))
    by_pupil: dict[tuple[uuid.UUID | None, dt.date], list[MealRow]] = defaultdict(list)
    for r in billable:
        if (r.student_id, r.serving_day) in doubted:
            by_pupil[(r.student_id, r.serving_day)].append(r)
    out = []
    for (student, day), meals in sorted(by_pupil.items(), key=lambda kv: (kv[0][1], str(kv[0][0]))):
        schools = {r.school_id for r in meals}
        first = min(meals, key=lambda r: r.id)
        out.append(Candidate(codes.TWO_SCHOOLS_ONE_DAY, f"pupil:{student}:{day}", first.region_id,
                             first.school_id, day, {"day": day.isoformat(), "schools": len(schools),
                                                    "school_ids": sorted(schools)},
                             tuple(r.id for r in meals), p.as_json()))
    return out


def day_later_closed(rows: Iterable[MealRow], closed: Mapping[tuple[int, dt.date], tuple[str, dt.datetime]],
                     p: codes.Parameters) -> list[Candidate]:
    """Billable meals on a day the school's calendar now calls a holiday or closure, notified after them."""
    by_day: dict[tuple[int, dt.date], list[MealRow]] = defaultdict(list)
    for r in rows:
        if r.billable and (r.school_id, r.serving_day) in closed:
            by_day[(r.school_id, r.serving_day)].append(r)
    out = []
    for (school_id, day), meals in sorted(by_day.items()):
        kind, notified = closed[(school_id, day)]
        out.append(Candidate(codes.DAY_LATER_CLOSED, f"school:{school_id}:{day}", meals[0].region_id, school_id,
                             day, {"day": day.isoformat(), "kind": kind, "meals": len(meals),
                                   "notified_at": notified.astimezone(dt.UTC).isoformat(timespec="seconds")},
                             tuple(r.id for r in meals), p.as_json()))
    return out


def above_enrolled_present(rows: Iterable[MealRow], present: Mapping[tuple[int, dt.date], int],
                           p: codes.Parameters) -> list[Candidate]:
    """A school's billable meals of one type on a day above its pupils enrolled and present; the meals
    served last, beyond that count, are the ones doubted."""
    by_key: dict[tuple[int, dt.date, str], list[MealRow]] = defaultdict(list)
    for r in rows:
        if r.billable:
            by_key[(r.school_id, r.serving_day, r.meal_type)].append(r)
    out = []
    for (school_id, day, meal_type), meals in sorted(by_key.items()):
        limit = present.get((school_id, day))
        if limit is not None and len(meals) > limit:
            meals.sort(key=lambda r: (r.served_at, r.id))
            out.append(Candidate(codes.ABOVE_ENROLLED_PRESENT, f"school:{school_id}:{day}:{meal_type}",
                                 meals[0].region_id, school_id, day,
                                 {"day": day.isoformat(), "meal_type": meal_type, "meals": len(meals),
                                  "present": limit}, tuple(r.id for r in meals[limit:]), p.as_json()))
    return out
