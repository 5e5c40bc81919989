"""`wallet import eligibility-list|eligibility-feed FILE`, and the voucher jobs that follow any eligibility
import (offers to the newly entitled, suspension of vouchers of pupils who lost eligibility)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wallet.db import transaction
from wallet.importing.base import Counts
from wallet.importing.eligibility import Eligibility
from wallet.importing.errors import ImportFailed, RowError
from wallet.models import Enrollment, School
from wallet.vouchers.eligibility_list_files import ListRefused, parse_list_csv
from wallet.vouchers.eligibility_lists import ListView, submit_list
from wallet.vouchers.offers import VoucherReport, offer_vouchers, sync_vouchers
from wallet.vouchers.registry_feed import parse_feed
from wallet.vouchers.years import school_year_of


def run_voucher_jobs(session: Session, today: dt.date, now: dt.datetime,
                     school_ids: Iterable[int] | None = None) -> VoucherReport:
    """Offer and sync for the school year of `today` (in the caller's transaction)."""
    year = school_year_of(today)
    ids = sorted(set(school_ids)) if school_ids is not None else None
    report = offer_vouchers(session, year, today, now, school_ids=ids)
    report.changed = sync_vouchers(session, year, today, now, school_ids=ids).changed
    return report


def import_eligibility_list(factory: sessionmaker[Session], path: Path, *, today: dt.date,
                            now: dt.datetime | None = None, submitted_by: str = "cli") -> ListView:
    """Read, check and apply a monthly list file; ImportFailed (nothing written) with every bad line."""
    try:
        document = parse_list_csv(Path(path).read_bytes())
        with transaction(factory) as session:
            school = session.scalars(select(School).where(School.bin == document.school_bin)).one_or_none()
            if school is None:
                raise ImportFailed([RowError(document.rows[0].line, "school_bin", "no school with this BIN")])
            return submit_list(session, school, document, submitted_by=submitted_by, today=today, now=now)
    except ListRefused as exc:
        raise ImportFailed(exc.errors) from None
    except IntegrityError as exc:
        raise _changed_meanwhile(exc) from exc


def import_eligibility_feed(factory: sessionmaker[Session], path: Path, *, today: dt.date,
                            now: dt.datetime | None = None) -> tuple[Counts, VoucherReport]:
    """Read, check and apply a registry feed (JSONL); then the voucher jobs for the pupils' schools."""
    now = now or dt.datetime.now(dt.UTC)
    records = parse_feed(Path(path).read_bytes())
    kind = Eligibility()
    try:
        with transaction(factory) as session:
            errors: list[RowError] = []
            plan = kind.check(session, records, errors)
            if errors:
                raise ImportFailed(errors)
            counts = kind.write(session, plan)
            report = run_voucher_jobs(session, today, now, _schools_of(session, plan.student_ids.values()))
    except IntegrityError as exc:
        raise _changed_meanwhile(exc) from exc
    return counts, report


def _schools_of(session: Session, student_ids: Iterable[uuid.UUID]) -> set[int]:
    ids = sorted(set(student_ids), key=str)
    found: set[int] = set()
    for start in range(0, len(ids), 900):
        found.update(session.scalars(select(Enrollment.school_id).where(
            Enrollment.student_id.in_(ids[start:start + 900]))))
    return found


def _changed_meanwhile(exc: IntegrityError) -> ImportFailed:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return ImportFailed([RowError(1, "", f"the database refused the import, perhaps changed meanwhile: {reason}")])
