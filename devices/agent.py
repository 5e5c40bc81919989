"""The canteen-terminal agent: enrol, keep the roster, record meals durably, upload them, report.

Everything the agent knows lives in its data directory: `terminal-key.pem` (0600, never sent anywhere)
and `journal.sqlite3` (settings, roster and every meal with its upload state).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from devices.client import Credentials, ServiceClient, ServiceError
from devices.identity import create_key, load_key, public_key_b64, uuid7
from devices.journal import Journal

MEAL_TYPES = ("breakfast", "lunch", "snack")
METHODS = ("qr", "card", "roster", "manual")


class AgentError(RuntimeError):
    """A problem the operator must act on (not enrolled, bad input); the message says what to do."""


@dataclass(frozen=True)
class Recorded:
    device_seq: int
    event_id: str
    hint: str  # what the canteen worker is told at once, from the local roster


@dataclass(frozen=True)
class SyncReport:
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    billable: int = 0
    remaining: int = 0


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class Agent:
    def __init__(self, data_dir: Path, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.data_dir = data_dir
        self.key_path = data_dir / "terminal-key.pem"
        self.journal = Journal(data_dir / "journal.sqlite3")
        self._sleep = sleep
        self._rng = rng or random.Random()

    def close(self) -> None:
        self.journal.close()

    # enrolment ------------------------------------------------------------------------------------------
    def enroll(self, server: str, code: str, label: str | None = None) -> dict[str, Any]:
        if self.journal.get("terminal_id"):
            raise AgentError(f"already enrolled as {self.journal.get('terminal_id')}; use a new --data-dir")
        key = load_key(self.key_path) if self.key_path.exists() else create_key(self.key_path)
        answer = ServiceClient(server).enroll(code, public_key_b64(key), label)
        self.journal.put(server=server, terminal_id=answer["terminalId"], school_bin=answer["schoolBin"],
                         audience=answer["audience"], max_batch=str(answer["maxBatchEvents"]))
        return answer

    def client(self) -> ServiceClient:
        terminal_id, server = self.journal.get("terminal_id"), self.journal.get("server")
        if not terminal_id or not server:
            raise AgentError("this terminal is not enrolled: run `wallet-terminal enroll --server URL --code CODE`")
        audience = self.journal.get("audience") or ""
        return ServiceClient(server, Credentials(load_key(self.key_path), terminal_id, audience))

    # roster ---------------------------------------------------------------------------------------------
    def refresh_roster(self) -> bool:
        """Fetch the roster when it changed; True when a new one was stored."""
        roster, etag = self.client().roster(self.journal.get("roster_etag"))
        if roster is None:
            return False
        self.journal.put(roster=json.dumps(roster, ensure_ascii=False), roster_etag=etag or "")
        return True

    def roster(self) -> dict[str, Any] | None:
        raw = self.journal.get("roster")
        return json.loads(raw) if raw else None

    # recording ------------------------------------------------------------------------------------------
    def record(self, student_id: str, meal_type: str, method: str = "roster",
               now: dt.datetime | None = None) -> Recorded:
        if meal_type not in MEAL_TYPES:
            raise AgentError(f"meal type must be one of {', '.join(MEAL_TYPES)}")
        if method not in METHODS:
            raise AgentError(f"method must be one of {', '.join(METHODS)}")
        if not student_id or len(student_id) > 64:
            raise AgentError("student id must be 1-64 characters")
        if not self.journal.get("terminal_id"):
            raise AgentError("this terminal is not enrolled: run `wallet-terminal enroll --server URL --code CODE`")
        now = now or dt.datetime.now(dt.UTC)
        roster = self.roster()
        zone = ZoneInfo(roster["school"]["timezone"]) if roster else ZoneInfo("Asia/Almaty")
        day = now.astimezone(zone).date().isoformat()
        hint = self._hint(roster, student_id, meal_type, day)
        event_id = str(uuid7(now))
        seq = self.journal.append(event_id, student_id, meal_type, now, method, day, hint)
        return Recorded(seq, event_id, hint)

    def _hint(self, roster: dict[str, Any] | None, student_id: str, meal_type: str, day: str) -> str:
        if roster is None:
            return "no roster yet: the service will decide"
        pupil = next((p for p in roster["students"] if p["studentId"] == student_id), None)
        if pupil is None:
            return "not on this school's roster"
        if roster.get("servingDay") == day and meal_type not in pupil["mealTypes"]:
            return "free meal: no"
        if self.journal.meals_of(student_id, meal_type, day):
            return f"second {meal_type} today"
        return "free meal: yes"

    # upload ---------------------------------------------------------------------------------------------
    def sync(self, *, max_attempts: int = 6, max_batches: int | None = None) -> SyncReport:
        """Upload queued events in deviceSeq order, in batches, retrying with backoff and jitter."""
        client = self.client()
        limit = int(self.journal.get("max_batch") or 500)
        totals = {"sent": 0, "acknowledged": 0, "rejected": 0, "billable": 0}
        batches = 0
        while max_batches is None or batches < max_batches:
            queued = self.journal.queued(limit)
            if not queued:
                break
            answer = self._post_with_retries(client, queued, max_attempts)
            self.journal.store_results(answer["results"], queued, answer["serverTime"])
            self.journal.put(last_contact=answer["serverTime"], clock_offset_ms=str(answer.get("clockOffsetMs")))
            batches += 1
            totals["sent"] += len(queued)
            for result in answer["results"]:
                ok = result["status"] in ("recorded", "replayed")
                totals["acknowledged" if ok else "rejected"] += 1
                totals["billable"] += int(result.get("verdict") == "billable")
        return SyncReport(**totals, remaining=self.journal.counts()["queued"])

    def _post_with_retries(self, client: ServiceClient, queued: list, max_attempts: int) -> dict[str, Any]:
        delay = 1.0
        for attempt in range(1, max_attempts + 1):
            try:
                return client.post_events(_iso(dt.datetime.now(dt.UTC)), [e.as_json() for e in queued])
            except ServiceError as exc:
                if not exc.retryable or attempt == max_attempts:
                    raise
                # Full jitter: terminals that come back online together do not retry in step.
                wait = exc.retry_after_s if exc.retry_after_s is not None else self._rng.uniform(0, delay)
                self._sleep(min(wait, 60.0))
                delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def run(self, *, interval_s: float = 15.0, stop: Callable[[], bool] = lambda: False) -> None:
        """The long-running loop: refresh the roster and upload, forever (until `stop()`)."""
        while not stop():
            try:
                self.refresh_roster()
                self.sync(max_attempts=1)
            except ServiceError as exc:
                if not exc.retryable:
                    raise
            self._sleep(interval_s)

    # reports --------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {"terminalId": self.journal.get("terminal_id"), "school": self.journal.get("school_bin"),
                "server": self.journal.get("server"), **self.journal.counts(),
                "lastContact": self.journal.get("last_contact"),
                "clockOffsetMs": self.journal.get("clock_offset_ms")}

    def export(self, out: TextIO) -> int:
        """The local journal as CSV, for the school to keep."""
        writer = csv.writer(out)
        columns = ["device_seq", "event_id", "student_id", "meal_type", "served_at", "serving_day", "method",
                   "local_hint", "state", "status", "verdict", "reasons", "entry_id", "position", "leaf_hash",
                   "code", "answered_at"]
        writer.writerow(columns)
        count = 0
        for row in self.journal.rows():
            writer.writerow([_cell(row[c]) for c in columns])
            count += 1
        return count
