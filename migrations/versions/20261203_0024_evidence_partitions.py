"""evidence partitions: findings, their entries, rulings and parents' disputes partitioned by month on
PostgreSQL, their cross-month keys in finding_keys, finding_ruling_keys and meal_dispute_keys (SQLite
unchanged; migration 0020 left as it ran)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import datetime as dt

from alembic import op

from wallet.partitions.evidence import partition_evidence, unpartition_evidence

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    partition_evidence(op.get_bind(), dt.datetime.now(dt.UTC))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    unpartition_evidence(op.get_bind())
