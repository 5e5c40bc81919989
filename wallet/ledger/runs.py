"""Verification runs as records: every run of the ledger check is appended to `verification_runs`.

`wallet verify`, the auditor endpoint and the console's button all tally their reports in a `RunTally` and
append one row when the run has finished (also when it found a mismatch, and as `error` when the check
itself broke). Recording is a side effect of a check, never its result: `record_quietly` swallows and
reports a database failure so that a caller can still print or return what the check found.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wallet.db import transaction
from wallet.ledger.verify import ChainReport, Problem, UnknownSchoolError
from wallet.models import School, VerificationRun

__all__ = ["RunTally", "record_quietly", "record_run", "recorded_run", "software_version"]

log = logging.getLogger(__name__)
DISTRIBUTION = "social-wallet-meal-ledger"
MAX_PROBLEM_CHARS = 2000


@cache
def software_version() -> str:
    """The installed version of this service, recorded with each run (a check is only as good as its code)."""
    try:
        return metadata.version(DISTRIBUTION)[:40]
    except metadata.PackageNotFoundError:
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class RunTally:
    """What one run has checked so far; `add` each school's report as it comes."""

    via: str  # "cli", "api" or "console"
    actor: str  # "cli", or a staff member as role:subject
    school_bin: str | None  # None: every school with a chain
    started_at: dt.datetime = field(default_factory=_now)
    chains: int = 0
    entries: int = 0
    checkpoints: int = 0
    failed: int = 0
    first_problem: tuple[int, Problem] | None = None  # (school id, problem) of the first failing chain
    run_id: int | None = None
    record_error: str | None = None

    def add(self, report: ChainReport) -> None:
        self.chains += 1
        self.entries += report.size
        self.checkpoints += report.checkpoints_checked
        if not report.ok:
            self.failed += 1
            if self.first_problem is None:
                # problems[0] is the first bad entry when there is one, else the head or a checkpoint.
                self.first_problem = (report.school_id, report.problems[0])


def record_run(session_factory: sessionmaker[Session], tally: RunTally, *, error: BaseException | None = None) -> int:
    """Append the finished run in a transaction of its own; returns its id."""
    with transaction(session_factory) as session:
        school_id = None
        if tally.school_bin is not None:
            school_id = session.scalar(select(School.id).where(School.bin == tally.school_bin))
        run = VerificationRun(
            started_at=tally.started_at, finished_at=max(_now(), tally.started_at), via=tally.via,
            actor=tally.actor[:80], school_id=school_id, chains_checked=tally.chains,
            entries_checked=tally.entries, checkpoints_checked=tally.checkpoints, chains_failed=tally.failed,
            software_version=software_version(),
        )
        if error is not None:
            run.result, run.problem = "error", _error_text(error)
        elif tally.first_problem is not None:
            problem_school_id, problem = tally.first_problem
            run.result = "mismatch"
            run.problem_school_id, run.problem_kind = problem_school_id, problem.kind
            run.problem_position, run.problem_entry_id = problem.position, problem.entry_id
            run.problem = problem.describe()[:MAX_PROBLEM_CHARS]
        else:
            run.result = "ok"
        session.add(run)
        session.flush()
        return run.id


def record_quietly(
    session_factory: sessionmaker[Session], tally: RunTally, *, error: BaseException | None = None
) -> int | None:
    """`record_run`, but a failure to record is logged and kept in `tally.record_error`, never raised:
    the caller must still report what the check found."""
    try:
        tally.run_id = record_run(session_factory, tally, error=error)
    except SQLAlchemyError as exc:
        tally.record_error = _error_text(exc)
        log.warning("verification run not recorded: %s", tally.record_error)
    return tally.run_id


@contextmanager
def recorded_run(
    session_factory: sessionmaker[Session], *, via: str, actor: str, school_bin: str | None
) -> Iterator[RunTally]:
    """Tally a run inside the block and record it when the block ends: ok or mismatch as tallied, or
    `error` (then re-raised) when the check raised. Nothing is recorded for a school that does not exist:
    nothing was checked. Raise exits such as SystemExit after the block, so the run is recorded first."""
    tally = RunTally(via=via, actor=actor, school_bin=school_bin)
    try:
        yield tally
    except UnknownSchoolError:
        raise
    except Exception as exc:
        record_quietly(session_factory, tally, error=exc)
        raise
    record_quietly(session_factory, tally)


def _error_text(exc: BaseException) -> str:
    # The first line only: driver messages go on with the statement and its parameters.
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:MAX_PROBLEM_CHARS]
