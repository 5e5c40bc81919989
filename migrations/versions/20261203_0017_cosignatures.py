"""cosignatures: the national log of school checkpoints, its signed heads and the witnesses' cosignatures

national_log_leaves (leaf n = one school checkpoint's C2SP text), national_checkpoints (signed heads of that
log) and cosignatures are append-only: triggers refuse UPDATE and DELETE on both databases (and TRUNCATE on
PostgreSQL) and the application role may only read and append. witness_outcomes holds the latest answer of
each witness (who is down or refusing now) and may be updated.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 11:16:25.678218
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('national_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('frontier', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('issued_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('tree_size >= 0', name=op.f('ck_national_checkpoints_size_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_national_checkpoints')),
    sa.UniqueConstraint('tree_size', name=op.f('uq_national_checkpoints_tree_size'))
    )
    op.create_table('witness_outcomes',
    sa.Column('witness_name', sa.String(length=200), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('cosigned', 'refused', 'unreachable', 'invalid')", name=op.f('ck_witness_outcomes_outcome_known')),
    sa.PrimaryKeyConstraint('witness_name', name=op.f('pk_witness_outcomes'))
    )
    op.create_table('cosignatures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('national_checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('witness_name', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('received_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['national_checkpoint_id'], ['national_checkpoints.id'], name=op.f('fk_cosignatures_national_checkpoint_id_national_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cosignatures')),
    sa.UniqueConstraint('national_checkpoint_id', 'witness_name', name=op.f('uq_cosignatures_national_checkpoint_id_witness_name'))
    )
    with op.batch_alter_table('cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cosignatures_national_checkpoint_id'), ['national_checkpoint_id'], unique=False)

    op.create_table('national_log_leaves',
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('added_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('position >= 0', name=op.f('ck_national_log_leaves_position_natural')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_national_log_leaves_checkpoint_id_checkpoints')),
    sa.PrimaryKeyConstraint('position', name=op.f('pk_national_log_leaves')),
    sa.UniqueConstraint('checkpoint_id', name=op.f('uq_national_log_leaves_checkpoint_id'))
    )
    _refuse_changes()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY)} TO {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON witness_outcomes TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APP_ROLE = "wallet_app"
APPEND_ONLY = ("national_log_leaves", "national_checkpoints", "cosignatures")


def _refuse_changes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION witnessing_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION witnessing_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION witnessing_refuse_change()")
    else:
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {action} refused'); END")


def downgrade() -> None:
    op.drop_table('national_log_leaves')
    with op.batch_alter_table('cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cosignatures_national_checkpoint_id'))

    op.drop_table('cosignatures')
    op.drop_table('witness_outcomes')
    op.drop_table('national_checkpoints')  # their triggers go with the tables
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS witnessing_refuse_change()")
