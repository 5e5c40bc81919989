"""The scan on PostgreSQL: the database does the counting, Python sees only the rows in doubt.

Reading a month's every meal into Python cost more than the rules (docs/benchmarks.md, findings scan). Here
each rule either runs whole in SQL (the serving rate, whose windows flag every meal of a busy line) or SQL
picks out the terminal-days, school-days and pupil-days the rule can doubt, exactly, and the rule of
scan_rules runs on just their rows, so the candidates are those of the Python path, figure for figure.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import literal, select, text, tuple_
from sqlalchemy.orm import Session

from wallet.evidence import codes, scan_reads, scan_rules
from wallet.evidence.findings import Candidate
from wallet.models import AttendanceMark, LedgerEntry, School
from wallet.months import Month

# One read, one pass per order, for the two rules of a terminal's day.
# serving_rate, whole: a terminal-day with a meal closer than the minimum gap to its neighbour, or in a 60 s window of
# more than max_per_minute meals. Ordered by servedAt (what the rule finds does not depend on the order of
# meals of one instant; the figures' first meal is taken by (served_at, id) as the rule takes it): a meal ends an
# over-full window when the meal :k places before it is less than 60 s earlier; a meal is flagged by the rate
# when such a window end follows it within 60 s (an end among its peers of the same servedAt would make it an
# end too, so the frame by time may hold them). Counts by time: microsecond timestamps, so "less than 60 s"
# is "at most 59.999999 s". Every window orders by a prefix of (served_at, device_seq, id), and the covering
# index ix_ledger_entries_month_terminal_day (migration 0023) holds the month's meals in (terminal_id,
# serving_day, served_at, device_seq, id) order: an index-only scan of each partition, merged, with no sort,
# when the statement runs without parallel workers (a parallel scan splits the order and sorts it again).
# The scope's schools are a filter on the index's school_id (`+ 0`: not an index condition, or the planner walks
# ix_ledger_entries_school_day once per school and sorts; it prices the filter as one comparison per school
# and row, although PostgreSQL hashes a long `= ANY` list after planning). The voids: see VOIDED_SQL.
# cloned_device, the days it can doubt: a clock going back by device_seq, or a sequence number used twice,
# shows in servedAt order as a sequence number not above the one before; the rule itself runs on those days'
# rows (a clock set back by less than the jump brings a day to Python and is not flagged there).
TERMINAL_SQL = text("""
WITH m AS (
    SELECT e.id, e.school_id, e.terminal_id, e.serving_day, e.served_at, e.device_seq,
           e.verdict = 'billable' AS billable
    FROM ledger_entries e
    WHERE e.kind = 'meal' AND e.billing_month = :month AND e.school_id + 0 = ANY(:ids) AND e.terminal_id IS NOT NULL
      AND e.id <> ALL(:voided)
), w1 AS (
    SELECT id, school_id, terminal_id, serving_day, served_at, billable, device_seq,
           served_at - lag(served_at) OVER w AS gap_prev,
           lead(served_at) OVER w - served_at AS gap_next,
           min(served_at) OVER (PARTITION BY terminal_id, serving_day) AS first_at,
           coalesce(served_at - lag(served_at, :k) OVER w < interval '60 seconds', false) AS window_end,
           count(*) OVER (PARTITION BY terminal_id, serving_day ORDER BY served_at
                          RANGE BETWEEN interval '59.999999 seconds' PRECEDING AND CURRENT ROW) AS in_minute,
           lag(device_seq) OVER w AS prev_seq
    FROM m
    WINDOW w AS (PARTITION BY terminal_id, serving_day ORDER BY served_at, device_seq, id)
), w2 AS (
    SELECT *, coalesce(gap_prev < make_interval(secs => :gap), false)
              OR coalesce(gap_next < make_interval(secs => :gap), false)
              OR sum(CASE WHEN window_end THEN 1 ELSE 0 END) OVER (
                     PARTITION BY terminal_id, serving_day ORDER BY served_at
                     RANGE BETWEEN CURRENT ROW AND interval '59.999999 seconds' FOLLOWING) > 0 AS flagged,
              coalesce(prev_seq >= device_seq, false) AS clone
    FROM w1
)
SELECT terminal_id, serving_day, bool_or(clone) AS clone, bool_or(flagged) AS rate,
       (min(ARRAY[id, school_id]) FILTER (WHERE served_at = first_at))[2] AS school_id,
       count(*) FILTER (WHERE flagged) AS flagged, floor(extract(epoch FROM min(gap_prev))) AS min_gap,
       max(in_minute) AS peak,
       array_agg(id) FILTER (WHERE flagged AND billable) AS held, array_agg(id) FILTER (WHERE flagged) AS ids
FROM w2
GROUP BY terminal_id, serving_day
HAVING bool_or(flagged) OR bool_or(clone)
""")


def _weak_methods() -> list[str]:
    return [method for method, strength in codes.STRENGTH.items() if strength != "weak"]


# The meals voided this month, read once for both statements (a handful: a void is an operator's
# correction). Left out of the index-ordered reads by a hashed `<> ALL` filter, which keeps the index's
# order; an anti-join to the voids would hash the month and sort it again.
VOIDED_SQL = text("""
SELECT v.refers_to FROM ledger_entries v
WHERE v.kind = 'void' AND v.refers_to IS NOT NULL AND v.billing_month = :month
""")

# One read of the covering index (index-only, parallel workers allowed: the hashes need no order), two hashed
# groupings. Per school, day, terminal and meal type: meals,
# billable meals, weakly identified billable meals. And the pupils billable at two schools or more in the
# month (a pupil's month, not each day: a tenth of the groups; two_schools_one_day sorts out the days).
GROUPS_SQL = text("""
SELECT e.school_id, e.serving_day, e.terminal_id, e.meal_type, e.student_id, grouping(e.student_id) AS by_school,
       count(*) AS meals, count(*) FILTER (WHERE e.verdict = 'billable') AS billable,
       count(*) FILTER (WHERE e.verdict = 'billable' AND NOT coalesce(e.method, '') = ANY(:strong)) AS weak
FROM ledger_entries e
WHERE e.kind = 'meal' AND e.billing_month = :month AND e.school_id + 0 = ANY(:ids) AND e.id <> ALL(:voided)
GROUP BY GROUPING SETS ((e.school_id, e.serving_day, e.terminal_id, e.meal_type), (e.student_id))
HAVING grouping(e.student_id) = 1
    OR (e.student_id IS NOT NULL AND min(e.school_id) FILTER (WHERE e.verdict = 'billable')
                                     <> max(e.school_id) FILTER (WHERE e.verdict = 'billable'))
""")


def voided(session: Session, month: str) -> list[int]:
    return list(session.execute(VOIDED_SQL, {"month": month}).scalars())


def _groups(session: Session, ids: list[int], month: str, voids: list[int]) -> tuple[list[Any], list[Any]]:
    groups, pupils = [], []
    for row in session.execute(GROUPS_SQL, {"month": month, "ids": ids, "voided": voids, "strong": _weak_methods()}):
        if row.by_school:
            groups.append((row[0], row[1], row[2], row[3], row.meals, row.billable, row.weak))
        else:
            pupils.append(row.student_id)
    return groups, pupils


def _weak_days(groups: list[Any], p: codes.Parameters) -> list[tuple[int, dt.date]]:
    """The school-days weak_identification_share would flag for the school or for one of its terminals."""
    school: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    terminal: dict[tuple[int, dt.date], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for school_id, day, terminal_id, _, _, n, weak in groups:
        if not n:
            continue
        school[(school_id, day)][0] += n
        school[(school_id, day)][1] += weak
        if terminal_id is not None:
            terminal[(school_id, day)][terminal_id][0] += n
            terminal[(school_id, day)][terminal_id][1] += weak

    def over(n: int, weak: int) -> bool:
        return n >= p.weak_min_meals and weak > p.weak_share * n

    return [key for key, (n, weak) in school.items()
            if over(n, weak) or (len(terminal[key]) > 1 and any(over(*c) for c in terminal[key].values()))]


def terminal_days(session: Session, ids: list[int], month: str, regions: dict[int, int], p: codes.Parameters,
                  voids: list[int]) -> tuple[list[Candidate], list[tuple[str, dt.date]]]:
    """serving_rate's candidates, and the terminal-days cloned_device must look at."""
    workers = session.execute(text("SELECT current_setting('max_parallel_workers_per_gather')")).scalar_one()
    session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true)"))
    rows = session.execute(TERMINAL_SQL, {"month": month, "ids": ids, "k": p.max_per_minute, "gap": p.min_gap_s,
                                          "voided": voids}).all()
    session.execute(text("SELECT set_config('max_parallel_workers_per_gather', :w, true)"), {"w": workers})
    rate, clone, parameters = [], [], p.as_json()
    for terminal, day, cloned, rated, school_id, flagged, min_gap, peak, held, every in sorted(
            rows, key=lambda r: (r[0], r[1])):
        if cloned:
            clone.append((terminal, day))
        if rated:
            rate.append(Candidate(codes.SERVING_RATE, f"terminal:{terminal}:{day}", regions[school_id], school_id,
                                  day, {"day": day.isoformat(), "terminal": terminal, "meals": flagged,
                                        "min_gap_s": int(min_gap) if min_gap is not None else 0,
                                        "peak_per_minute": peak},
                                  tuple(sorted(held or every)), parameters))
    return rate, clone


def candidates(session: Session, ids: list[int], month: Month, p: codes.Parameters
               ) -> tuple[int, list[Candidate]]:
    m, entry = str(month), LedgerEntry
    first, last = month.first_day, month.last_day
    # For this transaction: the windows sort a month in memory, and compiling the plans (JIT) would cost
    # more than it saves on statements that each run once.
    session.execute(text("SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"))
    regions = dict(session.execute(select(School.id, School.region_id).where(School.id.in_(ids))).all())
    voids = voided(session, m)
    groups, pupils = _groups(session, ids, m, voids)
    billable = entry.verdict == "billable"

    absent = scan_reads.absent_marks(session, ids, first, last)
    absent_rows = scan_reads.meal_rows(session, ids, m, billable, select(literal(1)).where(
        AttendanceMark.school_id.in_(ids), AttendanceMark.mark == "absent", AttendanceMark.day == entry.serving_day,
        AttendanceMark.student_id == entry.student_id).exists()) if absent else []

    weak_days = _weak_days(groups, p)
    weak_rows = scan_reads.meal_rows(session, ids, m, billable, tuple_(entry.school_id, entry.serving_day).in_(
        weak_days)) if weak_days else []

    rate, cloned = terminal_days(session, ids, m, regions, p, voids)
    clone_rows = scan_reads.meal_rows(session, ids, m, tuple_(entry.terminal_id, entry.serving_day).in_(
        cloned)) if cloned else []

    two_rows = scan_reads.meal_rows(session, ids, m, billable, entry.student_id.in_(pupils)) if pupils else []

    closed = scan_reads.closed_days(session, ids, first, last)
    closed_rows = scan_reads.meal_rows(session, ids, m, billable, tuple_(entry.school_id, entry.serving_day).in_(
        list(closed))) if closed else []

    present = scan_reads.present_counts(session, ids, {(g[0], g[1]) for g in groups if g[5]})
    counts: dict[tuple[int, dt.date, str], int] = defaultdict(int)
    for school_id, day, _, meal_type, _, n, _ in groups:
        counts[(school_id, day, meal_type)] += n
    above = [key for key, n in counts.items() if key[:2] in present and n > present[key[:2]]]
    above_rows = scan_reads.meal_rows(session, ids, m, billable, tuple_(
        entry.school_id, entry.serving_day, entry.meal_type).in_(above)) if above else []

    found = [
        *scan_rules.absent_but_billed(absent_rows, absent, p),
        *scan_rules.weak_identification_share(weak_rows, p),
        *rate,
        *scan_rules.cloned_device(clone_rows, p),
        *scan_rules.two_schools_one_day(two_rows, p),
        *scan_rules.day_later_closed(closed_rows, closed, p),
        *scan_rules.above_enrolled_present(above_rows, present, p),
    ]
    return sum(g[4] for g in groups), found
