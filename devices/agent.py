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

from devices import identity, qrtoken, serving_line, sync_status
from devices.client import Credentials, ServiceClient, ServiceError, describe_clock_offset
from devices.identity import create_key, load_key, public_key_b64, uuid7
from devices.journal import Journal, TokenSeen, result_message
from devices.qrtoken import QrRefused
from devices.serving_line import AllergenCheck

MEAL_TYPES = ("breakfast", "lunch", "snack")
METHODS = ("qr", "card", "roster", "manual")
# Why staff typed a meal in by hand: the service requires one with method manual and refuses it with any
# other (wallet.evidence.codes.MANUAL_REASONS; tests/devices keep the two lists equal).
MANUAL_REASONS = ("card_forgotten", "card_broken", "phone_unavailable", "terminal_fault", "new_pupil", "other")
CLOCK_OUT_OF_BOUNDS = "device_clock_out_of_bounds"
# The run loop asks for the roster at most this often (`sync` always asks): it holds the coming week.
ROSTER_REFRESH_S = 300
# Past this difference from the service's clock the agent warns (the service refuses meals past its tolerance).
CLOCK_WARN_MS = 30_000


class AgentError(RuntimeError):
    """A problem the operator must act on (not enrolled, bad input); the message says what to do."""


class AllergenNotConfirmed(RuntimeError):
    """The meal holds an allergen of the child and the cook did not confirm: nothing was recorded."""

    def __init__(self, check: AllergenCheck) -> None:
        super().__init__(check.message)
        self.check = check


@dataclass(frozen=True)
class Recorded:
    device_seq: int
    event_id: str
    hint: str  # what the canteen worker is told at once, from the local roster
    allergen: AllergenCheck = serving_line.NO_WARNING


@dataclass(frozen=True)
class Rejection:
    device_seq: int
    event_id: str
    status: str  # conflict | invalid
    code: str
    message: str


@dataclass(frozen=True)
class SyncReport:
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    billable: int = 0
    remaining: int = 0
    clock_refused: int = 0  # meals the service refused because the device clock was off
    clock_offset_ms: int | None = None  # service clock minus device clock, at the last upload
    rejections: tuple[Rejection, ...] = ()

    @property
    def clock_warning(self) -> str | None:
        return clock_warning(self.clock_offset_ms, self.clock_refused)


def clock_warning(offset_ms: int | None, refused: int = 0) -> str | None:
    """A warning for the canteen when the device clock is off, or None."""
    parts = []
    if offset_ms is not None and abs(offset_ms) > CLOCK_WARN_MS:
        parts.append(describe_clock_offset(offset_ms / 1000))
    if refused:
        parts.append(f"{refused} meal{'' if refused == 1 else 's'} refused by the service as {CLOCK_OUT_OF_BOUNDS}")
    return "; ".join(parts) + ": set the device clock" if parts else None


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
                 rng: random.Random | None = None, lock_timeout_s: float = 10.0) -> None:
        self.data_dir = data_dir
        self.key_path = data_dir / "terminal-key.pem"
        self.journal = Journal(data_dir / "journal.sqlite3", timeout_s=lock_timeout_s)
        self._sleep = sleep
        self._rng = rng or random.Random()

    def close(self) -> None:
        self.journal.close()

    # enrolment ------------------------------------------------------------------------------------------
    def enroll(self, server: str, code: str, label: str | None = None) -> dict[str, Any]:
        if self.journal.get("terminal_id"):
            raise AgentError(f"already enrolled as {self.journal.get('terminal_id')}; use a new --data-dir")
        service = ServiceClient(server)  # a malformed URL is refused before any key is made
        key = load_key(self.key_path) if self.key_path.exists() else create_key(self.key_path)
        answer = service.enroll(code, public_key_b64(key), label)
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
        checked = _iso(identity.utcnow())
        if roster is None:
            self.journal.put(roster_checked_at=checked)
            return False
        self.journal.put(roster=json.dumps(roster, ensure_ascii=False), roster_etag=etag or "",
                         roster_checked_at=checked)
        return True

    def roster_due(self) -> bool:
        """Whether the run loop should ask for the roster again: it covers the coming week, so every
        ROSTER_REFRESH_S is enough (the service computes all of it to answer even a 304)."""
        raw = self.journal.get("roster_checked_at")
        if not raw or not self.journal.get("roster"):
            return True
        age = (identity.utcnow() - dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))).total_seconds()
        return not 0 <= age < ROSTER_REFRESH_S  # a clock set back also asks again

    def roster(self, day: str | None = None) -> dict[str, Any] | None:
        """The stored roster. Given the day of a meal past the roster's last day, its allergen lists are
        deleted from the journal first: they are kept only as long as the roster speaks for."""
        raw = self.journal.get("roster")
        roster = json.loads(raw) if raw else None
        if roster is not None and day is not None and serving_line.outlived(roster, day):
            roster.pop("allergies", None)
            roster.pop("voucherAllergies", None)
            self.journal.put(roster=json.dumps(roster, ensure_ascii=False), roster_etag="")
        return roster

    # recording ------------------------------------------------------------------------------------------
    def record(self, student_id: str, meal_type: str, method: str = "roster",
               now: dt.datetime | None = None, *, allergens_confirmed: bool = False,
               manual_reason: str | None = None) -> Recorded:
        """Journal one meal. An allergen warning (the child's allergen in that meal's dishes) must be confirmed
        by the cook (`allergens_confirmed`), else AllergenNotConfirmed and nothing is stored."""
        if meal_type not in MEAL_TYPES:
            raise AgentError(f"meal type must be one of {', '.join(MEAL_TYPES)}")
        if method not in METHODS:
            raise AgentError(f"method must be one of {', '.join(METHODS)}")
        if method == "manual" and manual_reason not in MANUAL_REASONS:
            raise AgentError(f"a meal entered by hand needs its reason, one of {', '.join(MANUAL_REASONS)}")
        if method != "manual" and manual_reason is not None:
            raise AgentError("a reason is given only for a meal entered by hand (method manual)")
        if not student_id or len(student_id) > 64:
            raise AgentError("student id must be 1-64 characters")
        if not self.journal.get("terminal_id"):
            raise AgentError("this terminal is not enrolled: run `wallet-terminal enroll --server URL --code CODE`")
        now = now or identity.utcnow()
        roster, day = self._roster_on(now)
        hint = self._hint(roster, student_id, meal_type, day)
        check = serving_line.allergen_check(roster, meal_type, day, student_id=student_id)
        return self._journal_meal(now, check, allergens_confirmed, hint, student_id, meal_type, method, day,
                                  manual_reason=manual_reason)

    def _roster_on(self, now: dt.datetime) -> tuple[dict[str, Any] | None, str]:
        """The roster (its allergen lists gone once outlived) and the school's local date of `now`."""
        raw = self.roster()
        zone = ZoneInfo(raw["school"]["timezone"]) if raw else ZoneInfo("Asia/Almaty")
        day = now.astimezone(zone).date().isoformat()
        return self.roster(day), day

    def _journal_meal(self, now: dt.datetime, check: AllergenCheck, confirmed: bool, hint: str, student_id: str,
                      meal_type: str, method: str, day: str, **qr: Any) -> Recorded:
        if check.needs_confirmation and not confirmed:
            raise AllergenNotConfirmed(check)
        # The journal keeps that the cook was warned (or that allergies were unknown), never which allergens:
        # those live only in the roster, and go with it (docs/decisions.md).
        told = {serving_line.WARNING: f"{hint}; allergen warning confirmed",
                serving_line.UNKNOWN: f"{hint}; allergies unknown"}.get(check.status, hint)
        event_id = str(uuid7(now))
        warning = "confirmed" if check.needs_confirmation else None
        seq = self.journal.append(event_id, student_id, meal_type, now, method, day, told,
                                  allergen_warning=warning, **qr)
        return Recorded(seq, event_id, hint, check)

    def record_qr(self, token: str, meal_type: str, now: dt.datetime | None = None, *,
                  allergens_confirmed: bool = False) -> Recorded:
        """Check a scanned QR token offline and journal the meal; QrRefused ("free meal: no") otherwise.

        Checked here: the signature (roster's keys), school, meal type, validity and whether this terminal
        has seen the token before. The voucher's state and other terminals' scans are the service's to judge.
        """
        if meal_type not in MEAL_TYPES:
            raise AgentError(f"meal type must be one of {', '.join(MEAL_TYPES)}")
        if not self.journal.get("terminal_id"):
            raise AgentError("this terminal is not enrolled: run `wallet-terminal enroll --server URL --code CODE`")
        now = now or identity.utcnow()
        roster, day = self._roster_on(now)
        keys = qrtoken.public_keys(roster)
        if roster is None or not keys:
            raise AgentError("no QR keys yet: run `wallet-terminal sync` once while online")
        scanned = qrtoken.verify(token, keys)
        qrtoken.check(scanned, school_bin=str(roster["school"]["bin"]), meal_type=meal_type, now=now)
        check = serving_line.allergen_check(roster, meal_type, day, voucher_id=str(scanned.voucher_id))
        try:
            return self._journal_meal(now, check, allergens_confirmed, "free meal: yes", "", meal_type, "qr", day,
                                      qr_token=token.strip(), qr_token_id=str(scanned.token_id),
                                      qr_expires=scanned.expires)
        except TokenSeen:
            raise QrRefused("reused", "this QR code was already used at this terminal") from None

    def _hint(self, roster: dict[str, Any] | None, student_id: str, meal_type: str, day: str) -> str:
        hint = serving_line.free_meal_hint(roster, student_id, meal_type, day)
        if hint is not None:
            return hint
        if self.journal.meals_of(student_id, meal_type, day):
            return f"second {meal_type} today"
        return "free meal: yes"

    # upload ---------------------------------------------------------------------------------------------
    def sync(self, *, max_attempts: int = 6, max_batches: int | None = None) -> SyncReport:
        """Upload queued events in deviceSeq order, in batches, retrying with backoff and jitter."""
        client = self.client()
        limit = int(self.journal.get("max_batch") or 500)
        totals = {"sent": 0, "acknowledged": 0, "rejected": 0, "billable": 0, "clock_refused": 0}
        rejections: list[Rejection] = []
        offset: int | None = None
        batches = 0
        while max_batches is None or batches < max_batches:
            queued = self.journal.queued(limit)
            if not queued:
                break
            try:
                answer = self._post_with_retries(client, queued, max_attempts)
            except ServiceError as exc:
                if exc.status != 413 or len(queued) == 1:
                    raise
                # The service now takes smaller batches than when this terminal enrolled: halve and go on.
                limit = max(1, len(queued) // 2)
                self.journal.put(max_batch=str(limit))
                continue
            results = [r for r in answer["results"] if 0 <= r.get("index", -1) < len(queued)]
            if not results:
                # Without an answer for any event the same batch would be sent forever.
                raise ServiceError("the service answered the batch without a result for any event", retryable=False)
            self.journal.store_results(results, queued, answer["serverTime"])
            sync_status.note_upload(self.journal, answer["serverTime"], results)
            offset = answer.get("clockOffsetMs")
            self.journal.put(last_contact=answer["serverTime"],
                             clock_offset_ms="" if offset is None else str(int(offset)))
            batches += 1
            totals["sent"] += len(queued)
            for result in results:
                ok = result["status"] in ("recorded", "replayed")
                totals["acknowledged" if ok else "rejected"] += 1
                totals["billable"] += int(result.get("verdict") == "billable")
                totals["clock_refused"] += int(CLOCK_OUT_OF_BOUNDS in (result.get("reasons") or []))
                if not ok:
                    event = queued[result["index"]]
                    rejections.append(Rejection(event.device_seq, event.event_id, result["status"],
                                                result.get("code") or "", result_message(result)))
        return SyncReport(**totals, remaining=self.journal.counts()["queued"],
                          clock_offset_ms=None if offset is None else int(offset), rejections=tuple(rejections))

    def _post_with_retries(self, client: ServiceClient, queued: list, max_attempts: int) -> dict[str, Any]:
        delay = 1.0
        for attempt in range(1, max_attempts + 1):
            try:
                return client.post_events(_iso(identity.utcnow()), [e.as_json() for e in queued],
                                          backlog=sync_status.backlog_beyond(self.journal, queued))
            except ServiceError as exc:
                if not exc.retryable or attempt == max_attempts:
                    raise
                # Full jitter: terminals that come back online together do not retry in step.
                wait = exc.retry_after_s if exc.retry_after_s is not None else self._rng.uniform(0, delay)
                self._sleep(min(wait, 60.0))
                delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def run(self, *, interval_s: float = 15.0, stop: Callable[[], bool] = lambda: False,
            max_loops: int | None = None, on_error: Callable[[ServiceError], None] = lambda exc: None) -> int:
        """The long-running loop: refresh the roster and upload, forever (until `stop()` or `max_loops`).
        A passing problem (service unreachable, busy) is reported to `on_error` and tried again next loop;
        one that waiting cannot fix (revoked, clock) ends the loop. Returns the number of loops."""
        loops = 0
        while not stop():
            try:
                if self.roster_due():
                    self.refresh_roster()
                self.sync(max_attempts=1)
            except ServiceError as exc:
                if not exc.retryable:
                    raise
                on_error(exc)
            loops += 1
            if max_loops is not None and loops >= max_loops:
                break
            self._sleep(interval_s)
        return loops

    # reports --------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        raw_offset = self.journal.get("clock_offset_ms") or ""
        offset = int(raw_offset) if raw_offset.lstrip("-").isdigit() else None
        counts = self.journal.counts()
        return {"terminalId": self.journal.get("terminal_id"), "school": self.journal.get("school_bin"),
                "server": self.journal.get("server"), **counts,
                "lastContact": self.journal.get("last_contact"),
                "clockOffsetMs": offset, "clockWarning": clock_warning(offset),
                **sync_status.sync_status(self.journal, identity.utcnow())}

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
