"""qr tokens: spent token ids (qr_token_uses); voucher and token ids on ledger entries

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

APP_ROLE = "wallet_app"


def upgrade() -> None:
    op.create_table('qr_token_uses',
    sa.Column('token_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_qr_token_uses_school_id_schools')),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_qr_token_uses'))
    )
    # Nullable columns added in place (ALTER TABLE ... ADD COLUMN on both databases): no row is rewritten,
    # and the append-only triggers on ledger_entries stay as they are.
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voucher_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('qr_token_id', sa.Uuid(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON qr_token_uses TO {APP_ROLE}")


def downgrade() -> None:
    # DROP COLUMN in place (SQLite >= 3.35 too): batch mode would copy the ledger into a new table and lose
    # its append-only triggers.
    for column in ('qr_token_id', 'voucher_id'):
        op.execute(f"ALTER TABLE ledger_entries DROP COLUMN {column}")
    op.drop_table('qr_token_uses')
