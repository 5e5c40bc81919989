"""Ready for Citus (docs/scaling.md): every table is placed once (distributed by school_id, reference, or
outside with a reason); every distributed table carries school_id; every unique key of a distributed table
includes it, on the PostgreSQL shape (migration 0020's keys for partitioned tables) or by a listed rule;
no reference table points at a distributed one (Citus forbids it)."""

from __future__ import annotations

from sqlalchemy import Table, UniqueConstraint

from wallet.models import Base
from wallet.models.distribution import (
    DISTRIBUTED_TABLES,
    DISTRIBUTION_COLUMN,
    KEYS_WITHOUT_SCHOOL,
    OUTSIDE_TABLES,
    REFERENCE_TABLES,
    SURROGATE_KEY,
)
from wallet.partitions.spec import BY_TABLE, ENTRY_KEYS_UNIQUE, EVIDENCE_PARTITIONED_TABLES

TABLES: dict[str, Table] = dict(Base.metadata.tables)


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    keys = [tuple(c.name for c in table.primary_key.columns)]
    keys += [tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)]
    keys += [tuple(c.name for c in i.columns) for i in table.indexes if i.unique]
    return keys


def _postgres_keys(table: Table) -> list[tuple[str, ...]]:
    """A partitioned table's keys on PostgreSQL: its primary key from wallet.partitions.spec; for the
    entries, the cross-month keys in ledger_entry_keys; the other model keys are SQLite's shape."""
    spec = BY_TABLE.get(table.name)
    if spec is None:
        return _unique_keys(table)
    return [spec.primary_key, *(ENTRY_KEYS_UNIQUE if table.name == "ledger_entries" else ())]


def test_every_table_is_placed_exactly_once():
    groups = [DISTRIBUTED_TABLES, REFERENCE_TABLES, set(OUTSIDE_TABLES)]
    placed = [name for group in groups for name in group]
    assert sorted(placed) == sorted(set(placed)), "a table is in two groups"
    assert set(placed) == set(TABLES), {"unplaced": set(TABLES) - set(placed), "unknown": set(placed) - set(TABLES)}


def test_distributed_tables_carry_school_id_and_outside_ones_say_why():
    for name in DISTRIBUTED_TABLES:
        column = TABLES[name].c.get(DISTRIBUTION_COLUMN)
        assert column is not None and not column.nullable, name
    for name, reason in OUTSIDE_TABLES.items():
        assert len(reason) > 20, name


def test_every_unique_key_of_a_distributed_table_includes_school_id():
    broken = []
    for name in sorted(DISTRIBUTED_TABLES):
        for key in _postgres_keys(TABLES[name]):
            if DISTRIBUTION_COLUMN in key or key == SURROGATE_KEY or (name, key) in KEYS_WITHOUT_SCHOOL:
                continue
            broken.append((name, key))
    assert broken == []


def test_partitioned_distributed_tables_hold_school_id_in_every_postgres_key():
    for name in DISTRIBUTED_TABLES & set(BY_TABLE):
        for key in _postgres_keys(TABLES[name]):
            assert DISTRIBUTION_COLUMN in key, (name, key)


def test_listed_exceptions_are_real_keys():
    for name, key in KEYS_WITHOUT_SCHOOL:
        assert name in DISTRIBUTED_TABLES and key in _unique_keys(TABLES[name]), (name, key)
        assert DISTRIBUTION_COLUMN not in key


def test_no_reference_table_points_at_a_distributed_or_outside_one():
    for name in REFERENCE_TABLES:
        for fk in TABLES[name].foreign_keys:
            assert fk.column.table.name in REFERENCE_TABLES, (name, fk.target_fullname)


def test_foreign_keys_between_distributed_tables_can_include_school_id():
    """Citus needs the distribution column on both sides of a key between distributed tables: the pointing
    table has school_id (the rows of one school point at rows of the same school)."""
    for name in DISTRIBUTED_TABLES:
        for fk in TABLES[name].foreign_keys:
            if fk.column.table.name in DISTRIBUTED_TABLES:
                assert DISTRIBUTION_COLUMN in TABLES[name].c, (name, fk.target_fullname)


def test_no_reference_table_is_partitioned_and_the_evidence_partitions_stay_on_the_coordinator():
    """Citus copies a reference table whole to every node and cannot partition one; the partitioned evidence
    tables (migration 0024) are local tables of the coordinator, outside the school-distributed ones."""
    assert not REFERENCE_TABLES & set(BY_TABLE)
    for spec in EVIDENCE_PARTITIONED_TABLES:
        assert spec.table in OUTSIDE_TABLES and "coordinator" in OUTSIDE_TABLES[spec.table], spec.table
