"""`wallet findings scan`: every rule over a month's meal entries in a scope, recording only new findings.

On SQLite: one read of the month's meal entries of the scope's schools (voided meals left out), one of the
attendance marks, one of the calendar's non-serving days with the time each was notified, one of the
enrollments (scan_reads); then the rules run in memory. On PostgreSQL the database counts and windows and
Python sees only the rows in doubt (scan_sql), with the same candidates. `findings.record` inserts what was
not found before. The cross-school rules see
only the scope's schools: scan a region (or everything) for them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from wallet.evidence import codes, scan_rules, scan_sql
from wallet.evidence.findings import Candidate, record
from wallet.evidence.scan_reads import absent_marks, closed_days, meal_rows, present_counts
from wallet.months import Month


@dataclass(frozen=True)
class ScanReport:
    month: str
    scope: str
    entries: int
    candidates: int
    new: dict[str, int]

    @property
    def new_total(self) -> int:
        return sum(self.new.values())


def candidates(session: Session, school_ids: list[int], month: Month, p: codes.Parameters
               ) -> tuple[int, list[Candidate]]:
    ids = school_ids
    if not ids:
        return 0, []
    if session.get_bind().dialect.name == "postgresql":
        return scan_sql.candidates(session, ids, month, p)
    return python_candidates(session, ids, month, p)


def python_candidates(session: Session, ids: list[int], month: Month, p: codes.Parameters
                      ) -> tuple[int, list[Candidate]]:
    """Every meal row read, every rule in memory: SQLite's path, and the reference the SQL path must match."""
    rows = meal_rows(session, ids, str(month))
    first, last = month.first_day, month.last_day
    days = {(r.school_id, r.serving_day) for r in rows if r.billable}
    found = [
        *scan_rules.absent_but_billed(rows, absent_marks(session, ids, first, last), p),
        *scan_rules.weak_identification_share(rows, p),
        *scan_rules.serving_rate(rows, p),
        *scan_rules.cloned_device(rows, p),
        *scan_rules.two_schools_one_day(rows, p),
        *scan_rules.day_later_closed(rows, closed_days(session, ids, first, last), p),
        *scan_rules.above_enrolled_present(rows, present_counts(session, ids, days), p),
    ]
    return len(rows), found


class ScanScope(Protocol):
    """What a scan covers (a wallet.reconciliation.scope.Scope is one)."""

    label: str

    @property
    def school_ids(self) -> list[int]: ...


def scan(session: Session, scope: ScanScope, month: Month, *, now: dt.datetime,
         parameters: codes.Parameters | None = None) -> ScanReport:
    """Run every scan rule; record the new findings in the caller's transaction (the caller commits)."""
    p = parameters or codes.Parameters()
    entries, found = candidates(session, scope.school_ids, month, p)
    new = record(session, found, source="scan", now=now)
    counts: dict[str, int] = defaultdict(int)
    for finding in new:
        counts[finding.rule] += 1
    return ScanReport(str(month), scope.label, entries, len(found), dict(counts))
