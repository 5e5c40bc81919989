"""push_deliveries: the delivery state of parents' notifications pushed to the national app

One row per (outbox row, guardian link): pending with its attempt count and the time of the next attempt, or
delivered, dead (given up), withheld (consent or link gone when it was due) or expired (the outbox row was
pruned first). Kept apart from parent_notifications so the outbox can still be pruned (wallet.parents.push).
Not a ledger table: the worker updates rows here, so the application role may UPDATE (and DELETE, to prune).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wallet.models.base import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

APP_ROLE = "wallet_app"


def upgrade() -> None:
    op.create_table('push_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('notification_id', sa.BigInteger(), nullable=False),
    sa.Column('guardian_link_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'delivered', 'dead', 'withheld', 'expired')",
                       name=op.f('ck_push_deliveries_state_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_push_deliveries_attempts_natural')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries')),
    sa.UniqueConstraint('notification_id', 'guardian_link_id',
                        name=op.f('uq_push_deliveries_notification_id_guardian_link_id'))
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON push_deliveries TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


def downgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_push_deliveries_state_next_attempt_at')
    op.drop_table('push_deliveries')
