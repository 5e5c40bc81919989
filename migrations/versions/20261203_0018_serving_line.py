"""serving line: the allergen warning a cook confirmed, on ledger entries; each terminal's reported backlog

`ledger_entries.allergen_warning` is hashed only when set (wallet.ledger.append), so every entry appended
before it keeps its canonical bytes and verifies unchanged. `terminals.backlog_count` and
`terminals.backlog_oldest_at` are what the terminal said it still held unsent at its last upload.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 11:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns added in place (ALTER TABLE ... ADD COLUMN on both databases): no row is rewritten,
    # and the append-only triggers on ledger_entries stay as they are.
    op.add_column('ledger_entries', sa.Column('allergen_warning', sa.String(length=16), nullable=True))
    op.add_column('terminals', sa.Column('backlog_count', sa.Integer(), nullable=True))
    op.add_column('terminals', sa.Column('backlog_oldest_at', wallet.models.base.UTCDateTime(timezone=True),
                                         nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite >= 3.35 too): batch mode would copy the ledger into a new table and lose
    # its append-only triggers.
    op.execute("ALTER TABLE terminals DROP COLUMN backlog_oldest_at")
    op.execute("ALTER TABLE terminals DROP COLUMN backlog_count")
    op.execute("ALTER TABLE ledger_entries DROP COLUMN allergen_warning")
