"""What the schema comparison (`alembic check`, tests/integration/test_migrations.py) leaves out on
PostgreSQL: the monthly partitions and the keys tables are no models, a partitioned table's unique keys
live in the keys tables, foreign keys to ledger_entries and findings point there (migrations 0020 and
0024), and finding_entries' partition column is PostgreSQL's own. The models keep SQLite's shape;
tests/integration/test_partitions.py and test_evidence_partitions.py check PostgreSQL's."""

from __future__ import annotations

from typing import Any

from wallet.partitions.spec import (
    BY_TABLE,
    ENTRY_KEYS_TABLE,
    ENTRY_LOOKUP_INDEXES,
    EVIDENCE_KEYS_TABLES,
    EVIDENCE_LOOKUP_INDEXES,
    FINDING_ENTRIES_TIME,
    is_partition_name,
)

KEYS_TABLES = (ENTRY_KEYS_TABLE, *EVIDENCE_KEYS_TABLES)


def comparison_options(dialect_name: str) -> dict[str, Any]:
    if dialect_name != "postgresql":
        return {}

    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return not (type_ == "table" and name is not None and (is_partition_name(name) or name in KEYS_TABLES))

    def include_object(obj: Any, name: str | None, type_: str, _reflected: bool, _other: object) -> bool:
        if type_ == "index" and (name in ENTRY_LOOKUP_INDEXES or name in EVIDENCE_LOOKUP_INDEXES):
            return False
        if type_ == "column" and name == FINDING_ENTRIES_TIME and obj.table.name == "finding_entries":
            return False
        if type_ == "unique_constraint":
            return obj.table.name not in BY_TABLE
        if type_ == "foreign_key_constraint":
            return obj.referred_table.name not in (*BY_TABLE, *KEYS_TABLES)
        return True

    return {"include_name": include_name, "include_object": include_object}
