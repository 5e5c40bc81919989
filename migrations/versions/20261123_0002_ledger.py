"""ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:53:32.065055
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meal_slots',
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('student_id', 'serving_day', 'meal_type', name=op.f('pk_meal_slots'))
    )
    op.create_table('used_token_ids',
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_used_token_ids'))
    )
    with op.batch_alter_table('used_token_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_token_ids_expires_at'), ['expires_at'], unique=False)

    op.create_table('closed_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('closed_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_closed_periods_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closed_periods')),
    sa.UniqueConstraint('region_id', 'month', name=op.f('uq_closed_periods_region_id_month'))
    )
    op.create_table('chain_heads',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('chain_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('frontier', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_chain_heads_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_chain_heads'))
    )
    op.create_table('checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('chain_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.CheckConstraint('tree_size >= 0', name=op.f('ck_checkpoints_size_non_negative')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_checkpoints_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
    sa.UniqueConstraint('school_id', 'tree_size', 'key_id', name=op.f('uq_checkpoints_school_id_tree_size_key_id'))
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoints_school_id'), ['school_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('terminal_id', sa.String(length=64), nullable=True),
    sa.Column('device_seq', sa.BigInteger(), nullable=True),
    sa.Column('student_ref', sa.String(length=64), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=True),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('served_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('billing_month', sa.String(length=7), nullable=False),
    sa.Column('received_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=True),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('price_tiyn', sa.BigInteger(), nullable=False),
    sa.Column('refers_to', sa.BigInteger(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('chain_hash', sa.LargeBinary(length=32), nullable=False),
    sa.CheckConstraint("kind <> 'void' OR refers_to IS NOT NULL", name=op.f('ck_ledger_entries_void_refers')),
    sa.CheckConstraint("kind IN ('meal', 'void')", name=op.f('ck_ledger_entries_kind_known')),
    sa.CheckConstraint("meal_type IN ('breakfast', 'lunch', 'snack')", name=op.f('ck_ledger_entries_meal_type_known')),
    sa.CheckConstraint("verdict = 'billable' OR price_tiyn = 0", name=op.f('ck_ledger_entries_refused_costs_nothing')),
    sa.CheckConstraint("verdict IN ('billable', 'not_billable')", name=op.f('ck_ledger_entries_verdict_known')),
    sa.CheckConstraint('position > 0', name=op.f('ck_ledger_entries_position_positive')),
    sa.CheckConstraint('price_tiyn >= 0', name=op.f('ck_ledger_entries_price_non_negative')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_ledger_entries_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('event_id', name=op.f('uq_ledger_entries_event_id')),
    sa.UniqueConstraint('refers_to', name=op.f('uq_ledger_entries_refers_to')),
    sa.UniqueConstraint('school_id', 'position', name=op.f('uq_ledger_entries_school_id_position')),
    sa.UniqueConstraint('terminal_id', 'device_seq', name=op.f('uq_ledger_entries_terminal_id_device_seq'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_school_day', ['school_id', 'serving_day'], unique=False)
        batch_op.create_index('ix_ledger_entries_student_day', ['student_id', 'serving_day'], unique=False)

    _refuse_changes_to_ledger_tables()
    _create_application_role()


LEDGER_TABLES = ("ledger_entries", "checkpoints")
MUTABLE_TABLES = (
    "regions", "schools", "suppliers", "eligibility_categories", "contracts", "contract_prices", "students",
    "enrollments", "student_eligibility", "guardian_links", "calendar_days", "menus", "menu_dishes",
    "terminals", "chain_heads", "meal_slots", "used_token_ids", "closed_periods",
)
APP_ROLE = "wallet_app"


def _refuse_changes_to_ledger_tables() -> None:
    """The database itself keeps the ledger append-only, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
    else:
        for table in LEDGER_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: {action} refused'); END"
                )


def _create_application_role() -> None:
    """On PostgreSQL, a role for the service that may read and append to the ledger but never change it.

    Grant it to the login the service uses (`GRANT wallet_app TO service_login`); migrations keep running
    as the owner. Roles are cluster-wide, so an existing role is reused.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(LEDGER_TABLES)} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(MUTABLE_TABLES)} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_student_day')
        batch_op.drop_index('ix_ledger_entries_school_day')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoints_school_id'))

    op.drop_table('checkpoints')
    op.drop_table('chain_heads')
    op.drop_table('closed_periods')
    with op.batch_alter_table('used_token_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_token_ids_expires_at'))

    op.drop_table('used_token_ids')
    op.drop_table('meal_slots')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
