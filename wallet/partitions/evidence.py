"""The evidence tables (findings, their entries, rulings and parents' disputes) partitioned by month and back
(migration 0024; PostgreSQL only), with the tables' own rows moved by wallet.partitions.convert.

Their keys that must hold across months (one finding per rule and key, one ruling per finding, one dispute
per meal) move to narrow unpartitioned tables filled by a BEFORE INSERT trigger in the row's own statement,
the pattern of ledger_entry_keys (docs/decisions.md, "Monthly partitions"): a second row fails with a
unique violation as before, and nothing in wallet/evidence changes. The foreign keys to a finding point at
finding_keys (finding_id). Everything is read from the catalog or from spec.py, not from the models.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from wallet.partitions.convert import copy_grants, partition_table, unpartition_table
from wallet.partitions.spec import (
    EVIDENCE_KEYS,
    EVIDENCE_LOOKUP_INDEXES,
    EVIDENCE_PARTITIONED_TABLES,
    FINDING_ENTRIES_TIME,
    FINDING_REFERRERS,
)

REFUSE = "evidence_refuse_change"
# The keys the plain tables hold themselves (migration 0015), for the way back.
PLAIN_UNIQUE = {
    "findings": ("uq_findings_rule_key", ("rule", "key")),
    "finding_rulings": ("uq_finding_rulings_finding_id", ("finding_id",)),
    "meal_disputes": ("uq_meal_disputes_entry_id", ("entry_id",)),
}
# What each keys table copies from its table's rows, in the keys table's column order.
_SOURCE_COLUMNS = {
    "findings": ("id", "rule", "key", "created_at"),
    "finding_rulings": ("finding_id", "id"),
    "meal_disputes": ("entry_id", "id"),
}


def _keys_table(conn: Connection, table: str) -> None:
    """The narrow keys table of one evidence table, filled from its rows, append-only, with its grants, and
    the function its insert trigger calls."""
    keys, columns, primary, unique = EVIDENCE_KEYS[table]
    names = [name for name, _ in columns]
    body = ", ".join(f"{name} {kind} NOT NULL" + (" DEFAULT now()" if name == FINDING_ENTRIES_TIME else "")
                     for name, kind in columns)
    body += f", CONSTRAINT pk_{keys} PRIMARY KEY ({', '.join(primary)})"
    if unique:
        body += f", CONSTRAINT uq_{keys}_{'_'.join(unique)} UNIQUE ({', '.join(unique)})"
    conn.execute(text(f"CREATE TABLE {keys} ({body})"))
    conn.execute(text(f"INSERT INTO {keys} ({', '.join(names)}) SELECT {', '.join(_SOURCE_COLUMNS[table])} "
                      f"FROM {table}"))
    copy_grants(conn, table, keys)
    conn.execute(text(f"CREATE TRIGGER {keys}_append_only BEFORE UPDATE OR DELETE ON {keys} "
                      f"FOR EACH ROW EXECUTE FUNCTION {REFUSE}()"))
    conn.execute(text(f"CREATE TRIGGER {keys}_no_truncate BEFORE TRUNCATE ON {keys} "
                      f"FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE}()"))
    # recorded_at is left to its DEFAULT (the transaction's start): finding_entries' own default is the same.
    written = [n for n in names if n != FINDING_ENTRIES_TIME]
    values = ", ".join(f"NEW.{source}" for source, name in zip(_SOURCE_COLUMNS[table], names, strict=True)
                       if name in written)
    conn.execute(text(
        f"CREATE FUNCTION {keys}_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {keys} ({', '.join(written)}) VALUES ({values}); RETURN NEW; END $$"))


def _finding_entries_time(conn: Connection) -> None:
    """finding_entries' partition column: its finding's time (finding_keys.recorded_at) for the rows there
    are, now() for new ones, which the trigger below holds equal to the finding's."""
    conn.execute(text(f"ALTER TABLE finding_entries ADD COLUMN {FINDING_ENTRIES_TIME} timestamptz NOT NULL "
                      "DEFAULT now()"))
    conn.execute(text("ALTER TABLE finding_entries DISABLE TRIGGER finding_entries_append_only"))
    conn.execute(text(f"UPDATE finding_entries e SET {FINDING_ENTRIES_TIME} = k.recorded_at FROM finding_keys k "
                      "WHERE k.finding_id = e.finding_id"))
    conn.execute(text("ALTER TABLE finding_entries ENABLE TRIGGER finding_entries_append_only"))
    conn.execute(text(
        "CREATE FUNCTION finding_entries_same_time() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.{FINDING_ENTRIES_TIME} IS DISTINCT FROM (SELECT recorded_at FROM finding_keys "
        "WHERE finding_id = NEW.finding_id) THEN "
        "RAISE EXCEPTION 'finding % has no entries recorded at %: a finding''s entries are written with it', "
        f"NEW.finding_id, NEW.{FINDING_ENTRIES_TIME} USING ERRCODE = 'check_violation'; END IF; "
        "RETURN NEW; END $$"))


def partition_evidence(conn: Connection, now: dt.datetime) -> None:
    for table in EVIDENCE_KEYS:
        _keys_table(conn, table)
    _finding_entries_time(conn)
    for table, (name, _cols) in PLAIN_UNIQUE.items():
        conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    for referrer in FINDING_REFERRERS:
        conn.execute(text(f"ALTER TABLE {referrer} DROP CONSTRAINT fk_{referrer}_finding_id_findings"))
        conn.execute(text(f"ALTER TABLE {referrer} ADD CONSTRAINT fk_{referrer}_finding_keys "
                          "FOREIGN KEY (finding_id) REFERENCES finding_keys (finding_id)"))
    for spec in EVIDENCE_PARTITIONED_TABLES:
        partition_table(conn, spec, now)
    for name, (table, cols) in EVIDENCE_LOOKUP_INDEXES.items():
        conn.execute(text(f"CREATE INDEX {name} ON {table} ({', '.join(cols)})"))
    for table, (keys, *_rest) in EVIDENCE_KEYS.items():
        conn.execute(text(f"CREATE TRIGGER {table}_keys BEFORE INSERT ON {table} "
                          f"FOR EACH ROW EXECUTE FUNCTION {keys}_record()"))
    conn.execute(text("CREATE TRIGGER finding_entries_same_time BEFORE INSERT ON finding_entries "
                      "FOR EACH ROW EXECUTE FUNCTION finding_entries_same_time()"))


def unpartition_evidence(conn: Connection) -> None:
    for name in EVIDENCE_LOOKUP_INDEXES:
        conn.execute(text(f"DROP INDEX {name}"))
    for referrer in FINDING_REFERRERS:
        conn.execute(text(f"ALTER TABLE {referrer} DROP CONSTRAINT fk_{referrer}_finding_keys"))
    for spec in reversed(EVIDENCE_PARTITIONED_TABLES):
        unpartition_table(conn, spec)  # the insert triggers stay behind with the partitioned tables
    conn.execute(text(f"ALTER TABLE finding_entries DROP COLUMN {FINDING_ENTRIES_TIME}"))
    conn.execute(text("DROP FUNCTION finding_entries_same_time()"))
    for table, (name, cols) in PLAIN_UNIQUE.items():
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({', '.join(cols)})"))
    for referrer in FINDING_REFERRERS:
        conn.execute(text(f"ALTER TABLE {referrer} ADD CONSTRAINT fk_{referrer}_finding_id_findings "
                          "FOREIGN KEY (finding_id) REFERENCES findings (id)"))
    for keys, *_rest in reversed(EVIDENCE_KEYS.values()):
        conn.execute(text(f"DROP TABLE {keys}"))
        conn.execute(text(f"DROP FUNCTION {keys}_record()"))
