"""The cheap rules, run on each batch as it is appended (called from one place: wallet.ingest.service).

Cheap means: at most one query per batch whatever its size (the attendance marks of the batch's billable
pupils and days), and nothing more when it finds nothing. The same rule functions run in the month's scan
(wallet.evidence.scan) with the same keys, so a journal imported after the meals is caught there and a
meal is never found twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.db import one_of
from wallet.evidence import codes, scan_rules
from wallet.evidence.findings import record
from wallet.evidence.scan_rules import MealRow
from wallet.models import AttendanceMark, LedgerEntry, School


def check_appended(session: Session, school: School, entries: Sequence[LedgerEntry], now: dt.datetime) -> None:
    billable = [e for e in entries if e.verdict == "billable" and e.student_id is not None]
    if not billable:
        return
    days = {e.serving_day for e in billable}
    absent = set(session.execute(
        select(AttendanceMark.student_id, AttendanceMark.day).where(
            AttendanceMark.school_id == school.id, AttendanceMark.mark == "absent",
            one_of(session, AttendanceMark.student_id, {e.student_id for e in billable}),
            AttendanceMark.day.in_(sorted(days)))))
    if not absent:
        return
    rows = [MealRow(e.id, school.region_id, school.id, e.terminal_id, e.device_seq, e.student_id, e.meal_type,
                    e.method, e.served_at, e.serving_day, True) for e in billable]
    record(session, scan_rules.absent_but_billed(rows, absent, codes.Parameters()), source="ingest", now=now)
