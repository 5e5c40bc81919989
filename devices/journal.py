"""The terminal's durable local journal (SQLite, WAL, synchronous=FULL).

A meal is written and committed here before the agent says "recorded": nothing lives only in memory.
Each event keeps its upload state: `queued` until the service answers, then `acknowledged` (recorded or
replayed: the verdict, chain position and leaf hash are kept as proof) or `rejected` (conflict or invalid:
kept and shown, never retried).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    device_seq INTEGER PRIMARY KEY CHECK (device_seq > 0),
    event_id TEXT NOT NULL UNIQUE,
    student_id TEXT NOT NULL,
    meal_type TEXT NOT NULL,
    served_at TEXT NOT NULL,
    method TEXT NOT NULL,
    serving_day TEXT NOT NULL,
    local_hint TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'acknowledged', 'rejected')),
    status TEXT, verdict TEXT, reasons TEXT, entry_id INTEGER, position INTEGER, leaf_hash TEXT,
    code TEXT, message TEXT, answered_at TEXT, qr_token TEXT, allergen_warning TEXT, manual_reason TEXT
);
CREATE INDEX IF NOT EXISTS events_state ON events (state, device_seq);
"""
# Added after the first journals were made; applied to older journals when they are opened.
QR_SCHEMA = """
CREATE TABLE IF NOT EXISTS qr_seen (
    token_id TEXT PRIMARY KEY,
    device_seq INTEGER NOT NULL REFERENCES events (device_seq),
    expires INTEGER NOT NULL
);
"""


class JournalError(RuntimeError):
    """The journal file cannot be used (corrupt, locked, not a journal); the message says which."""


@dataclass(frozen=True)
class QueuedEvent:
    device_seq: int
    event_id: str
    student_id: str
    meal_type: str
    served_at: str
    method: str
    qr_token: str | None = None
    allergen_warning: str | None = None  # "confirmed": the cook confirmed an allergen warning
    manual_reason: str | None = None  # why staff typed the meal in by hand (method manual only)

    def as_json(self) -> dict[str, Any]:
        event: dict[str, Any] = {"eventId": self.event_id, "deviceSeq": self.device_seq}
        if self.student_id:  # a QR meal names no student: the token's voucher does
            event["studentId"] = self.student_id
        if self.qr_token:
            event["qrToken"] = self.qr_token
        event.update(mealType=self.meal_type, servedAt=self.served_at, method=self.method)
        if self.allergen_warning == "confirmed":
            event["allergenWarning"] = {"shown": True, "confirmed": True}
        if self.manual_reason:
            event["manualReason"] = self.manual_reason
        return event


class TokenSeen(RuntimeError):
    """This QR token was already presented at this terminal."""


def result_message(result: dict[str, Any]) -> str:
    """The service's message on a refused event, with its per-field errors (what to fix, and where)."""
    message = str(result.get("message") or "")
    errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
    if errors:
        detail = "; ".join(f"{e.get('field', '?')}: {e.get('message', '')}".strip() for e in errors)
        message = f"{message} ({detail})" if message else detail
    return message


class Journal:
    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not {"settings", "events"} <= tables:
                raise JournalError(f"{path} is an SQLite file but not a terminal journal; it was left untouched")
            if tables and db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise JournalError(f"journal {path} failed its integrity check; it was left untouched")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if not tables:  # a new journal: all its tables in one transaction
                db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}{QR_SCHEMA}COMMIT;")
            elif "qr_seen" not in tables:
                _add_qr_tables(db)
            if tables:
                _add_columns(db)
        except (sqlite3.DatabaseError, JournalError) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, JournalError):
                raise
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise JournalError(f"journal {path} is locked by another process: {exc}") from exc
            raise JournalError(f"journal {path} cannot be used (corrupt or not a journal): {exc}") from exc
        self._db = db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that takes the lock at once, so a second agent process waits its turn."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise JournalError(f"journal {self.path} is locked by another process: {exc}") from exc
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # settings -------------------------------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def put(self, **values: str) -> None:
        with self._write() as db:
            db.executemany("INSERT INTO settings (key, value) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(values.items()))

    # events ---------------------------------------------------------------------------------------------
    def append(self, event_id: str, student_id: str, meal_type: str, served_at: dt.datetime, method: str,
               serving_day: str, local_hint: str = "", *, qr_token: str | None = None,
               qr_token_id: str | None = None, qr_expires: int = 0, allergen_warning: str | None = None,
               manual_reason: str | None = None) -> int:
        """Store a meal durably and return its deviceSeq; only after this returns is the meal recorded.

        A QR meal also marks its token seen, in the same transaction: TokenSeen if it already was."""
        with self._write() as db:
            if qr_token_id is not None and self.token_seen(qr_token_id):
                raise TokenSeen(qr_token_id)
            (last,) = db.execute("SELECT coalesce(max(device_seq), 0) FROM events").fetchone()
            seq = last + 1
            db.execute(
                "INSERT INTO events (device_seq, event_id, student_id, meal_type, served_at, method, serving_day, "
                "local_hint, qr_token, allergen_warning, manual_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, event_id, student_id, meal_type,
                 served_at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 method, serving_day, local_hint, qr_token, allergen_warning, manual_reason),
            )
            if qr_token_id is not None:
                db.execute("INSERT INTO qr_seen (token_id, device_seq, expires) VALUES (?, ?, ?)",
                           (qr_token_id, seq, qr_expires))
        return seq

    def token_seen(self, token_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM qr_seen WHERE token_id = ?", (token_id,)).fetchone() is not None

    def queued(self, limit: int) -> list[QueuedEvent]:
        rows = self._db.execute(
            "SELECT device_seq, event_id, student_id, meal_type, served_at, method, qr_token, allergen_warning, "
            "manual_reason FROM events WHERE state = 'queued' ORDER BY device_seq LIMIT ?", (limit,)).fetchall()
        return [QueuedEvent(*row) for row in rows]

    def queued_after(self, device_seq: int) -> tuple[int, str | None]:
        """Queued meals after `device_seq`: how many, and the servedAt of the oldest of them."""
        count, oldest = self._db.execute(
            "SELECT count(*), min(served_at) FROM events WHERE state = 'queued' AND device_seq > ?",
            (device_seq,)).fetchone()
        return int(count), oldest

    def store_results(self, results: list[dict[str, Any]], by_index: list[QueuedEvent], answered_at: str) -> None:
        with self._write() as db:
            for result in results:
                event = by_index[result["index"]]
                acknowledged = result["status"] in ("recorded", "replayed")
                db.execute(
                    "UPDATE events SET state = ?, status = ?, verdict = ?, reasons = ?, entry_id = ?, position = ?, "
                    "leaf_hash = ?, code = ?, message = ?, answered_at = ? WHERE device_seq = ?",
                    ("acknowledged" if acknowledged else "rejected", result["status"], result.get("verdict"),
                     ",".join(result.get("reasons", [])), result.get("entryId"), result.get("position"),
                     result.get("leafHash"), result.get("code"),
                     result_message(result),
                     answered_at, event.device_seq),
                )

    def meals_of(self, student_id: str, meal_type: str, serving_day: str) -> int:
        """Meals of this type already given to this child on this day (not counting refused ones)."""
        (count,) = self._db.execute(
            "SELECT count(*) FROM events WHERE student_id = ? AND meal_type = ? AND serving_day = ? "
            "AND (verdict IS NULL OR verdict = 'billable')", (student_id, meal_type, serving_day)).fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, count(*) FROM events GROUP BY state").fetchall()
        counts = {"queued": 0, "acknowledged": 0, "rejected": 0}
        counts.update({state: n for state, n in rows})
        (refused,) = self._db.execute("SELECT count(*) FROM events WHERE verdict = 'not_billable'").fetchone()
        counts["not_billable"] = refused
        (clock,) = self._db.execute(
            "SELECT count(*) FROM events WHERE ',' || coalesce(reasons, '') || ',' LIKE ?",
            ("%,device_clock_out_of_bounds,%",)).fetchone()
        counts["clock_refused"] = clock
        return counts

    def rows(self) -> Iterator[sqlite3.Row]:
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        yield from cursor.execute("SELECT * FROM events ORDER BY device_seq")


def _add_qr_tables(db: sqlite3.Connection) -> None:
    """Bring a journal made before QR tokens up to date (one transaction; nothing else is touched)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        if "qr_token" not in columns:
            db.execute("ALTER TABLE events ADD COLUMN qr_token TEXT")
        db.execute(QR_SCHEMA)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a journal made before allergen warnings or manual reasons up to date (columns only; nothing else
    is touched)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    for column in ("allergen_warning", "manual_reason"):
        if column not in columns:
            db.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
