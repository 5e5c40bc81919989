"""console_sessions: the web console's sign-ins, kept on the server

The console's cookie used to carry the signed-in identity (the parent's IIN among it, readable in base64)
and could not be revoked before it expired. Now it carries a random session id; this table holds the
SHA-256 of that id, the identity and the end of the sign-in. Not a ledger table: the service deletes a row at
sign-out and once it has expired, so the application role may DELETE here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wallet.models.base import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

APP_ROLE = "wallet_app"


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('school_bin', sa.String(length=255), nullable=True),
    sa.Column('region_code', sa.String(length=255), nullable=True),
    sa.Column('supplier_bin', sa.String(length=255), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_console_sessions'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_expires_at'), ['expires_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO {APP_ROLE}")


def downgrade() -> None:
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_expires_at'))
    op.drop_table('console_sessions')
