"""parents: allergies, meal feedback (append-only versions), child access log (append-only), notification outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:16:34.739037
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('child_access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_child_access_log'))
    )
    with op.batch_alter_table('child_access_log', schema=None) as batch_op:
        batch_op.create_index('ix_child_access_log_student_id_id', ['student_id', 'id'], unique=False)

    op.create_table('child_allergies',
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('allergens', sa.Text(), nullable=False),
    sa.Column('updated_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_child_allergies'))
    )
    op.create_table('parent_notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('served_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('billable', sa.Boolean(), nullable=False),
    sa.Column('created_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parent_notifications'))
    )
    with op.batch_alter_table('parent_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_parent_notifications_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_parent_notifications_student_id_id', ['student_id', 'id'], unique=False)

    op.create_table('meal_feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('parent_iin', sa.String(length=12), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('tags', sa.String(length=300), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("meal_type IN ('breakfast', 'lunch', 'snack')", name=op.f('ck_meal_feedback_meal_type_known')),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_meal_feedback_rating_range')),
    sa.CheckConstraint('version > 0', name=op.f('ck_meal_feedback_version_positive')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_meal_feedback_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_meal_feedback_school_id_schools')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_meal_feedback_supplier_id_suppliers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meal_feedback')),
    sa.UniqueConstraint('entry_id', 'version', name=op.f('uq_meal_feedback_entry_id_version'))
    )
    with op.batch_alter_table('meal_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_meal_feedback_school_day', ['school_id', 'serving_day'], unique=False)
        batch_op.create_index('ix_meal_feedback_supplier_day', ['supplier_id', 'serving_day'], unique=False)

    # Parents' reads of a pupil's entries (history, today) as index-only scans on PostgreSQL. On a ledger
    # that already holds years of entries, build it beforehand with CREATE INDEX CONCURRENTLY (same name and
    # definition); this statement then finds it and does nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_ledger_entries_student_history ON ledger_entries "
            "(student_id, serving_day, id) INCLUDE (kind, meal_type, served_at, verdict, reasons, school_id, refers_to)"
        )
    else:
        with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
            batch_op.create_index('ix_ledger_entries_student_history', ['student_id', 'serving_day', 'id'],
                                  unique=False)
    _refuse_changes_to_append_only_tables()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(MUTABLE_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APPEND_ONLY_TABLES = ("meal_feedback", "child_access_log")
MUTABLE_TABLES = ("child_allergies", "parent_notifications")
APP_ROLE = "wallet_app"


def _refuse_changes_to_append_only_tables() -> None:
    """Feedback versions and the access log are appended to, never changed (as the ledger, migration 0002)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION parents_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION parents_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION parents_refuse_change()"
            )
    else:
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {action} refused'); END"
                )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_ledger_entries_student_history")
    with op.batch_alter_table('meal_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_meal_feedback_supplier_day')
        batch_op.drop_index('ix_meal_feedback_school_day')

    op.drop_table('meal_feedback')
    with op.batch_alter_table('parent_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_parent_notifications_student_id_id')
        batch_op.drop_index('ix_parent_notifications_created_at')

    op.drop_table('parent_notifications')
    op.drop_table('child_allergies')
    with op.batch_alter_table('child_access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_child_access_log_student_id_id')

    op.drop_table('child_access_log')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS parents_refuse_change()")
