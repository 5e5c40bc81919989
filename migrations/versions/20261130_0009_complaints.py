"""complaints: parents' complaints to the education authority, and their append-only status history

A complaint escalates a parent's feedback on a meal; its status moves submitted -> in_review -> answered
and each move is appended to complaint_history, which the database refuses to change (triggers, as for the
ledger and the feedback). One open complaint per feedback is a partial unique index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:09:59.887637
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('parent_iin', sa.String(length=12), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('created_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status <> 'answered' OR answer IS NOT NULL", name=op.f('ck_complaints_answered_has_answer')),
    sa.CheckConstraint("status IN ('submitted', 'in_review', 'answered')", name=op.f('ck_complaints_status_known')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_complaints_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_complaints_region_id_regions')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_complaints_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_region_status', ['region_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_complaints_student_id_id', ['student_id', 'id'], unique=False)
        batch_op.create_index('uq_complaints_open_entry', ['entry_id'], unique=True, sqlite_where=sa.text("status <> 'answered'"), postgresql_where=sa.text("status <> 'answered'"))

    op.create_table('complaint_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'in_review', 'answered')", name=op.f('ck_complaint_history_status_known')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_history_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_history'))
    )
    with op.batch_alter_table('complaint_history', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_history_complaint_id_id', ['complaint_id', 'id'], unique=False)

    _refuse_changes_to_history()
    if op.get_bind().dialect.name == "postgresql":
        # The service updates a complaint's status and answer, and only ever appends to its history.
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON complaints TO {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT ON complaint_history TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APP_ROLE = "wallet_app"
HISTORY = "complaint_history"


def _refuse_changes_to_history() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION complaints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(f"CREATE TRIGGER {HISTORY}_append_only BEFORE UPDATE OR DELETE ON {HISTORY} "
                   "FOR EACH ROW EXECUTE FUNCTION complaints_refuse_change()")
        op.execute(f"CREATE TRIGGER {HISTORY}_no_truncate BEFORE TRUNCATE ON {HISTORY} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION complaints_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {HISTORY}_no_{action.lower()} BEFORE {action} ON {HISTORY} "
                       f"BEGIN SELECT RAISE(ABORT, 'table {HISTORY} is append-only: {action} refused'); END")



def downgrade() -> None:
    with op.batch_alter_table('complaint_history', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_history_complaint_id_id')

    op.drop_table('complaint_history')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('uq_complaints_open_entry', sqlite_where=sa.text("status <> 'answered'"), postgresql_where=sa.text("status <> 'answered'"))
        batch_op.drop_index('ix_complaints_student_id_id')
        batch_op.drop_index('ix_complaints_region_status')

    op.drop_table('complaints')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS complaints_refuse_change()")
