"""monthly partitions: ledger entries, the child access log, the parents' outbox and used token ids
partitioned by month on PostgreSQL, with their cross-month keys in ledger_entry_keys (SQLite unchanged)

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import datetime as dt

from alembic import op

from wallet.partitions.convert import partition_table, unpartition_table
from wallet.partitions.spec import PARTITIONED_TABLES

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    now = dt.datetime.now(dt.UTC)
    for spec in PARTITIONED_TABLES:
        partition_table(op.get_bind(), spec, now)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for spec in reversed(PARTITIONED_TABLES):
        unpartition_table(op.get_bind(), spec)
