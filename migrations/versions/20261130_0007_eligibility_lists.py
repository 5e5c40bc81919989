"""eligibility lists: monthly lists per school; voucher offers in the parents' outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 03:05:50.964258
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('eligibility_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('submitted_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=80), nullable=False),
    sa.CheckConstraint('length(month) = 7', name=op.f('ck_eligibility_lists_month_format')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_eligibility_lists_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_lists')),
    sa.UniqueConstraint('school_id', 'month', name=op.f('uq_eligibility_lists_school_id_month'))
    )
    op.create_table('eligibility_list_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['category_code'], ['eligibility_categories.code'], name=op.f('fk_eligibility_list_entries_category_code_eligibility_categories')),
    sa.ForeignKeyConstraint(['list_id'], ['eligibility_lists.id'], name=op.f('fk_eligibility_list_entries_list_id_eligibility_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_eligibility_list_entries_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_list_entries')),
    sa.UniqueConstraint('list_id', 'student_id', name=op.f('uq_eligibility_list_entries_list_id_student_id'))
    )
    with op.batch_alter_table('parent_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voucher_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('entry_id',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.alter_column('meal_type',
               existing_type=sa.VARCHAR(length=16),
               nullable=True)
        batch_op.alter_column('serving_day',
               existing_type=sa.DATE(),
               nullable=True)
        batch_op.alter_column('served_at',
               existing_type=wallet.models.base.UTCDateTime(timezone=True),
               nullable=True)
        batch_op.alter_column('billable',
               existing_type=sa.BOOLEAN(),
               nullable=True)
        batch_op.create_check_constraint(op.f('ck_parent_notifications_about_something'), 'entry_id IS NOT NULL OR voucher_id IS NOT NULL')
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(NEW_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


NEW_TABLES = ("eligibility_lists", "eligibility_list_entries")
APP_ROLE = "wallet_app"



def downgrade() -> None:
    # Offer notifications have no meal columns; they are a delivery aid and go with the columns.
    op.execute("DELETE FROM parent_notifications WHERE entry_id IS NULL")
    with op.batch_alter_table('parent_notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_parent_notifications_about_something'), type_='check')
        batch_op.alter_column('billable',
               existing_type=sa.BOOLEAN(),
               nullable=False)
        batch_op.alter_column('served_at',
               existing_type=wallet.models.base.UTCDateTime(timezone=True),
               nullable=False)
        batch_op.alter_column('serving_day',
               existing_type=sa.DATE(),
               nullable=False)
        batch_op.alter_column('meal_type',
               existing_type=sa.VARCHAR(length=16),
               nullable=False)
        batch_op.alter_column('entry_id',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.drop_column('voucher_id')

    op.drop_table('eligibility_list_entries')
    op.drop_table('eligibility_lists')
