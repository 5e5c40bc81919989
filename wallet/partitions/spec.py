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


# Adding a table is one line here (its migration then calls wallet.partitions.convert.partition_table).
PARTITIONED_TABLES: tuple[Partitioned, ...] = (
    Partitioned("ledger_entries", "received_at", ("id", "received_at", "school_id"), "ledger_refuse_change"),
    Partitioned("child_access_log", "at", ("id", "at"), "parents_refuse_change"),
    Partitioned("parent_notifications", "created_at", ("id", "created_at", "school_id")),
    Partitioned("used_token_ids", "expires_at", ("jti", "expires_at")),
)
BY_TABLE = {p.table: p for p in PARTITIONED_TABLES}

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
    for spec in PARTITIONED_TABLES:
        rest = name.removeprefix(spec.table + "_")
        if rest != name and (rest == "default" or (len(rest) == 7 and rest[0] == "p" and rest[1:].isdigit())):
            return True
    return False
