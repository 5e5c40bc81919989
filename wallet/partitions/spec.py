"""Which tables are partitioned by month on PostgreSQL, by which column, and under which keys: the one
declaration that migration 0020, `wallet partitions ensure` and the schema comparison read.

Every range key is a UTC time the service sets itself when it writes the row (never a device's clock), so
every write lands in the current month's partition, which is made ahead of time, and a month's partition
stops changing once the month is over. A key outside every made month lands in the table's DEFAULT
partition (old demo data, a test's fixed dates) instead of failing the write.

PostgreSQL demands that a partitioned table's unique keys include the partition column. The keys that must
hold across months (a school's chain position, an event id, a terminal's device_seq, a void's target) live
in the narrow, unpartitioned table `ledger_entry_keys`, filled by a trigger in the same statement as the
entry (see docs/decisions.md, "Monthly partitions").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Partitioned:
    table: str
    # The UTC timestamp column the monthly ranges are on.
    column: str
    # The primary key on PostgreSQL: the model's key, the partition column, and school_id where the table
    # has one (a Citus distributed table's keys must hold the distribution column; docs/scaling.md).
    primary_key: tuple[str, ...]
    # The trigger function that refuses UPDATE, DELETE and TRUNCATE (an earlier migration made it), if any.
    refuse_function: str | None = None
    # How many leading columns of primary_key are the model's key (the plain table's key on the way back).
    model_key_length: int = 1


# Adding a table is one line here (its migration then calls wallet.partitions.convert.partition_table).
PARTITIONED_TABLES: tuple[Partitioned, ...] = (
    Partitioned("ledger_entries", "received_at", ("id", "received_at", "school_id"), "ledger_refuse_change"),
    Partitioned("child_access_log", "at", ("id", "at"), "parents_refuse_change"),
    Partitioned("parent_notifications", "created_at", ("id", "created_at", "school_id")),
    Partitioned("used_token_ids", "expires_at", ("jti", "expires_at")),
)

# The evidence tables (issue 16), partitioned by migration 0024 (not 0020, whose list above stays as it ran).
# Their keys are the service's time of writing, as above. finding_entries has no time of its own: a
# PostgreSQL-only `recorded_at` (DEFAULT now(), the transaction's start) is added, not a model column, and a
# trigger holds it equal to its finding's (finding_keys.recorded_at), so (finding_id, entry_id,
# recorded_at) is as unique as (finding_id, entry_id). calendar_notices stays a plain table: a Citus
# reference table (docs/scaling.md) cannot be partitioned, and it takes a row per calendar change.
EVIDENCE_PARTITIONED_TABLES: tuple[Partitioned, ...] = (
    Partitioned("findings", "created_at", ("id", "created_at"), "evidence_refuse_change"),
    Partitioned("finding_entries", "recorded_at", ("finding_id", "entry_id", "recorded_at"),
                "evidence_refuse_change", model_key_length=2),
    Partitioned("finding_rulings", "at", ("id", "at"), "evidence_refuse_change"),
    Partitioned("meal_disputes", "at", ("id", "at"), "evidence_refuse_change"),
)
FINDING_ENTRIES_TIME = "recorded_at"

# What `wallet partitions ensure` keeps ahead: every partitioned table (a table an older database has not
# partitioned yet is passed over).
ENSURED_TABLES = PARTITIONED_TABLES + EVIDENCE_PARTITIONED_TABLES
BY_TABLE = {p.table: p for p in ENSURED_TABLES}

# The evidence tables' keys that span months, each in a narrow unpartitioned table (PostgreSQL only, not
# models), filled by a BEFORE INSERT trigger on its partitioned table, as ledger_entry_keys is:
# table -> (keys table, its columns (type), its primary key, its other unique key or None).
EVIDENCE_KEYS: dict[str, tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...] | None]] = {
    # one finding per rule and key, and the row the other tables' finding_id points at
    "findings": ("finding_keys", (("finding_id", "bigint"), ("rule", "varchar(40)"), ("key", "varchar(200)"),
                                  ("recorded_at", "timestamptz")), ("finding_id",), ("rule", "key")),
    # one ruling per finding
    "finding_rulings": ("finding_ruling_keys", (("finding_id", "bigint"), ("ruling_id", "bigint")),
                        ("finding_id",), None),
    # one dispute per meal
    "meal_disputes": ("meal_dispute_keys", (("entry_id", "bigint"), ("dispute_id", "bigint")), ("entry_id",), None),
}
EVIDENCE_KEYS_TABLES = tuple(keys for keys, *_ in EVIDENCE_KEYS.values())
# Tables whose finding_id points at finding_keys instead of findings(id) on PostgreSQL.
FINDING_REFERRERS = ("finding_entries", "finding_rulings", "meal_disputes")
# The lookups the evidence tables' unique keys served (a scan's known keys, a ruling's or a dispute's
# existence): plain indexes on every partition; the uniqueness is in the keys tables.
EVIDENCE_LOOKUP_INDEXES = {
    "ix_findings_rule_key": ("findings", ("rule", "key")),
    "ix_finding_rulings_finding_id": ("finding_rulings", ("finding_id",)),
    "ix_meal_disputes_entry_id": ("meal_disputes", ("entry_id",)),
}

# The narrow table of keys that span every month of ledger_entries (PostgreSQL only, not a model: SQLite
# keeps these keys on ledger_entries itself). Each key includes school_id, the Citus distribution column.
ENTRY_KEYS_TABLE = "ledger_entry_keys"
ENTRY_KEYS_COLUMNS = ("entry_id", "school_id", "position", "event_id", "terminal_id", "device_seq", "refers_to")
ENTRY_KEYS_UNIQUE: tuple[tuple[str, ...], ...] = (
    ("school_id", "position"),
    ("school_id", "event_id"),
    ("school_id", "terminal_id", "device_seq"),
    ("school_id", "refers_to"),
)
# The lookups the unique keys' indexes served on the plain table (ingest's event-id and device_seq lookups,
# verify's walk of a chain by position, a void's target): plain indexes on every partition. Without them
# each lookup scans every partition (measured: ingest's database CPU per event doubled and kept growing).
ENTRY_LOOKUP_INDEXES = {
    "ix_ledger_entries_event_id": ("event_id",),
    "ix_ledger_entries_terminal_id_device_seq": ("terminal_id", "device_seq"),
    "ix_ledger_entries_school_id_position": ("school_id", "position"),
    "ix_ledger_entries_refers_to": ("refers_to",),
}
# Tables whose foreign key to ledger_entries(id) points at ledger_entry_keys(school_id, entry_id) instead.
ENTRY_REFERRERS = ("meal_feedback", "complaints")

MONTHS_AHEAD = 3


def partition_name(table: str, year: int, month: int) -> str:
    return f"{table}_p{year:04d}{month:02d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def is_partition_name(name: str) -> bool:
    """Whether a table name is one of the partitions this module makes (the schema comparison skips them)."""
    for spec in ENSURED_TABLES:
        rest = name.removeprefix(spec.table + "_")
        if rest != name and (rest == "default" or (len(rest) == 7 and rest[0] == "p" and rest[1:].isdigit())):
            return True
    return False
