"""What the schema comparison (`alembic check`, tests/integration/test_migrations.py) leaves out on
PostgreSQL: the monthly partitions and ledger_entry_keys are no models, a partitioned table's unique keys
live in ledger_entry_keys, and foreign keys to ledger_entries point there (migration 0020). The models keep
SQLite's shape; tests/integration/test_partitions.py checks PostgreSQL's."""

from __future__ import annotations

from typing import Any

from wallet.partitions.spec import BY_TABLE, ENTRY_KEYS_TABLE, ENTRY_LOOKUP_INDEXES, is_partition_name


def comparison_options(dialect_name: str) -> dict[str, Any]:
    if dialect_name != "postgresql":
        return {}

    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return not (type_ == "table" and name is not None and (is_partition_name(name) or name == ENTRY_KEYS_TABLE))

    def include_object(obj: Any, name: str | None, type_: str, _reflected: bool, _other: object) -> bool:
        if type_ == "index" and name in ENTRY_LOOKUP_INDEXES:
            return False
        if type_ == "unique_constraint":
            return obj.table.name not in BY_TABLE
        if type_ == "foreign_key_constraint":
            return obj.referred_table.name not in (*BY_TABLE, ENTRY_KEYS_TABLE)
        return True

    return {"include_name": include_name, "include_object": include_object}
