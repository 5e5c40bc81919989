"""terminal enrollment codes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:00:19.850557
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enrollment_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('created_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', wallet.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('terminal_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_enrollment_codes_school_id_schools')),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_enrollment_codes'))
    )
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_codes_school_id'), ['school_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON enrollment_codes TO wallet_app")



def downgrade() -> None:
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollment_codes_school_id'))

    op.drop_table('enrollment_codes')
