"""scan index: the month's meal entries by terminal, day and time, covering what the findings scan reads

`ix_ledger_entries_month_terminal_day` on ledger_entries (billing_month, terminal_id, serving_day,
served_at, device_seq, id), meals only, with school_id, verdict, method, student_id and meal_type carried
in the index (INCLUDE) on PostgreSQL, so the scan's terminal-day windows read the month already in their
order by an index-only scan, and its school-day counts read nothing but the index (wallet/evidence/scan_sql.py;
docs/decisions.md, "The findings scan's covering index").

On PostgreSQL ledger_entries is partitioned by month (migration 0020): an index made on the parent is made
on every partition and on every partition made later (`wallet partitions ensure`), in this transaction
(CREATE INDEX CONCURRENTLY does not exist for a partitioned table; the build is part of the upgrade's
maintenance window, docs/operations.md). SQLite gets the same index on the key columns only (SQLite has
no INCLUDE): one declaration in the models, and SQLite's scan reads a month by its leading column.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

NAME = "ix_ledger_entries_month_terminal_day"
COLUMNS = ["billing_month", "terminal_id", "serving_day", "served_at", "device_seq", "id"]
INCLUDE = ["school_id", "verdict", "method", "student_id", "meal_type"]
MEALS = sa.text("kind = 'meal'")


def upgrade() -> None:
    op.create_index(NAME, "ledger_entries", COLUMNS, unique=False, postgresql_include=INCLUDE,
                    postgresql_where=MEALS, sqlite_where=MEALS)


def downgrade() -> None:
    op.drop_index(NAME, table_name="ledger_entries")
