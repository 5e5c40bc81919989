"""Turn an existing table into a monthly-partitioned one and back (migration 0020; PostgreSQL only).

Rows are copied inside the migration's transaction: the table is locked for the copy, which is the
maintenance window of an upgrade (docs/operations.md). Indexes, foreign keys, grants and the serial
sequence are read from the table as it is in the database, not from the models, so a later migration that
changes the models does not change what this one does.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from wallet.partitions.ensure import ensure_partitions, month_of
from wallet.partitions.spec import (
    ENTRY_KEYS_COLUMNS,
    ENTRY_KEYS_TABLE,
    ENTRY_KEYS_UNIQUE,
    ENTRY_LOOKUP_INDEXES,
    ENTRY_REFERRERS,
    MONTHS_AHEAD,
    Partitioned,
)

# The keys ledger_entries holds itself when it is not partitioned (migration 0002), for the way back.
PLAIN_ENTRY_UNIQUE = {
    "uq_ledger_entries_event_id": ("event_id",),
    "uq_ledger_entries_refers_to": ("refers_to",),
    "uq_ledger_entries_school_id_position": ("school_id", "position"),
    "uq_ledger_entries_terminal_id_device_seq": ("terminal_id", "device_seq"),
}


def _plain_indexes(conn: Connection, table: str) -> list[str]:
    """CREATE INDEX statements of the table's indexes that back no constraint."""
    return list(conn.execute(text(
        "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = CAST(:t AS regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1"),
        {"t": table}).scalars())


def _constraints(conn: Connection, table: str, kind: str) -> list[tuple[str, str]]:
    return [(n, d) for n, d in conn.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype = :k ORDER BY conname"), {"t": table, "k": kind})]


def copy_grants(conn: Connection, source: str, target: str) -> None:
    """Grant on `target` what `source` grants to roles other than its owner."""
    grants = conn.execute(text(
        "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner AND a.grantee <> 0"), {"t": source})
    for grantee, privilege in grants:
        conn.execute(text(f"GRANT {privilege} ON {target} TO {grantee}"))


def _rebuild(conn: Connection, spec: Partitioned, partition_clause: str) -> str:
    """Rename the table aside and make its twin (same columns, defaults, checks and grants) under its name;
    returns the name of the old table, still holding the rows."""
    old = f"{spec.table}__old"
    conn.execute(text(f"ALTER TABLE {spec.table} RENAME TO {old}"))
    conn.execute(text(
        f"CREATE TABLE {spec.table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) {partition_clause}"))
    copy_grants(conn, old, spec.table)
    return old


def _move_rows_and_drop(conn: Connection, spec: Partitioned, old: str) -> None:
    conn.execute(text(f"INSERT INTO {spec.table} SELECT * FROM {old}"))
    sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old}).scalar() \
        if spec.primary_key[0] == "id" else None
    if sequence:  # owned by the old table's column, it would go with it
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    conn.execute(text(f"DROP TABLE {old}"))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {spec.table}.id"))


def _refuse_changes(conn: Connection, table: str, function: str | None) -> None:
    if function is None:
        return
    conn.execute(text(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                      f"FOR EACH ROW EXECUTE FUNCTION {function}()"))
    conn.execute(text(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                      f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"))


def _restore(conn: Connection, spec: Partitioned, primary_key: tuple[str, ...], indexes: list[str],
             foreign: list[tuple[str, str]]) -> None:
    """What the rebuilt table gets back once its rows are in: its primary key, its plain indexes, its foreign
    keys and its refusal of changes (both ways of the migration)."""
    conn.execute(text(f"ALTER TABLE {spec.table} ADD CONSTRAINT pk_{spec.table} "
                      f"PRIMARY KEY ({', '.join(primary_key)})"))
    for statement in indexes:
        conn.execute(text(statement))
    for name, definition in foreign:
        conn.execute(text(f"ALTER TABLE {spec.table} ADD CONSTRAINT {name} {definition}"))
    _refuse_changes(conn, spec.table, spec.refuse_function)


def partition_table(conn: Connection, spec: Partitioned, now: dt.datetime, months_ahead: int = MONTHS_AHEAD) -> None:
    """Move one table's rows into a table partitioned by month on spec.column, keeping everything else."""
    indexes, foreign = _plain_indexes(conn, spec.table), _constraints(conn, spec.table, "f")
    unique = _constraints(conn, spec.table, "u")
    if unique and spec.table != "ledger_entries":
        raise RuntimeError(f"{spec.table} has unique keys {unique}: say where they go before partitioning it")
    if spec.table == "ledger_entries":
        _entry_keys_table(conn)
    old = _rebuild(conn, spec, f"PARTITION BY RANGE ({spec.column})")
    oldest = conn.execute(text(f"SELECT min({spec.column}) FROM {old}")).scalar()
    ensure_partitions(conn, now, months_ahead=months_ahead, since=month_of(oldest) if oldest else None,
                      tables=(spec,))
    if spec.table == "ledger_entries":
        conn.execute(text(f"INSERT INTO {ENTRY_KEYS_TABLE} ({', '.join(ENTRY_KEYS_COLUMNS)}) "
                          f"SELECT id, {', '.join(ENTRY_KEYS_COLUMNS[1:])} FROM {old}"))
    _move_rows_and_drop(conn, spec, old)
    _restore(conn, spec, spec.primary_key, indexes, foreign)
    if spec.table == "ledger_entries":
        for name, cols in ENTRY_LOOKUP_INDEXES.items():
            conn.execute(text(f"CREATE INDEX {name} ON ledger_entries ({', '.join(cols)})"))
        conn.execute(text(f"CREATE TRIGGER ledger_entries_keys BEFORE INSERT ON ledger_entries "
                          f"FOR EACH ROW EXECUTE FUNCTION {ENTRY_KEYS_TABLE}_record()"))
        for referrer in ENTRY_REFERRERS:
            conn.execute(text(
                f"ALTER TABLE {referrer} ADD CONSTRAINT fk_{referrer}_entry_keys FOREIGN KEY (school_id, entry_id) "
                f"REFERENCES {ENTRY_KEYS_TABLE} (school_id, entry_id)"))


def _entry_keys_table(conn: Connection) -> None:
    """The narrow table that keeps ledger_entries' cross-month keys, filled by a trigger on every insert."""
    for referrer in ENTRY_REFERRERS:
        conn.execute(text(f"ALTER TABLE {referrer} DROP CONSTRAINT fk_{referrer}_entry_id_ledger_entries"))
    unique = ", ".join(f"CONSTRAINT uq_{ENTRY_KEYS_TABLE}_{'_'.join(cols)} UNIQUE ({', '.join(cols)})"
                       for cols in ENTRY_KEYS_UNIQUE)
    conn.execute(text(
        f"CREATE TABLE {ENTRY_KEYS_TABLE} (entry_id bigint NOT NULL, school_id integer NOT NULL, "
        "position bigint NOT NULL, event_id uuid, terminal_id varchar(64), device_seq bigint, refers_to bigint, "
        f"CONSTRAINT pk_{ENTRY_KEYS_TABLE} PRIMARY KEY (school_id, entry_id), {unique})"))
    copy_grants(conn, "ledger_entries", ENTRY_KEYS_TABLE)
    _refuse_changes(conn, ENTRY_KEYS_TABLE, "ledger_refuse_change")
    columns = ", ".join(ENTRY_KEYS_COLUMNS)
    values = ", ".join(f"NEW.{c}" for c in ("id", *ENTRY_KEYS_COLUMNS[1:]))
    conn.execute(text(
        f"CREATE FUNCTION {ENTRY_KEYS_TABLE}_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {ENTRY_KEYS_TABLE} ({columns}) VALUES ({values}); RETURN NEW; END $$"))


def unpartition_table(conn: Connection, spec: Partitioned) -> None:
    """The way back: one plain table with the model's key (the first spec.model_key_length columns of
    spec.primary_key)."""
    indexes, foreign = _plain_indexes(conn, spec.table), _constraints(conn, spec.table, "f")
    # The lookup indexes give way to the unique keys they stood in for.
    indexes = [i for i in indexes if not any(f"INDEX {name} ON" in i for name in ENTRY_LOOKUP_INDEXES)]
    if spec.table == "ledger_entries":
        for referrer in ENTRY_REFERRERS:
            conn.execute(text(f"ALTER TABLE {referrer} DROP CONSTRAINT fk_{referrer}_entry_keys"))
    old = _rebuild(conn, spec, "")
    _move_rows_and_drop(conn, spec, old)
    _restore(conn, spec, spec.primary_key[:spec.model_key_length], indexes, foreign)
    if spec.table == "ledger_entries":
        for name, cols in PLAIN_ENTRY_UNIQUE.items():
            conn.execute(text(f"ALTER TABLE ledger_entries ADD CONSTRAINT {name} UNIQUE ({', '.join(cols)})"))
        conn.execute(text(f"DROP TABLE {ENTRY_KEYS_TABLE}"))
        conn.execute(text(f"DROP FUNCTION {ENTRY_KEYS_TABLE}_record()"))
        for referrer in ENTRY_REFERRERS:
            conn.execute(text(
                f"ALTER TABLE {referrer} ADD CONSTRAINT fk_{referrer}_entry_id_ledger_entries "
                "FOREIGN KEY (entry_id) REFERENCES ledger_entries (id)"))
