"""reconciliation: supplier claims, period close checkpoints, adjustment index

Supplier claims (a header per submission, one line per school, day and meal type), the checkpoint of every
school chain taken when a region's month is closed, and a small partial index on ledger_entries that finds
the entries able to adjust a closed month (voids, meals refused only because their month was closed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:26:02.223756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supplier_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('submitted_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=80), nullable=False),
    sa.Column('source_format', sa.String(length=8), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('total_meals', sa.BigInteger(), nullable=False),
    sa.Column('total_amount_tiyn', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("source_format IN ('csv', 'json')", name=op.f('ck_supplier_claims_source_format_known')),
    sa.CheckConstraint('length(month) = 7', name=op.f('ck_supplier_claims_month_shape')),
    sa.CheckConstraint('total_meals >= 0 AND total_amount_tiyn >= 0', name=op.f('ck_supplier_claims_totals_non_negative')),
    sa.CheckConstraint('version > 0', name=op.f('ck_supplier_claims_version_positive')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_claims_supplier_id_suppliers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_claims')),
    sa.UniqueConstraint('supplier_id', 'month', 'version', name=op.f('uq_supplier_claims_supplier_id_month_version'))
    )
    op.create_table('supplier_claim_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('meals', sa.Integer(), nullable=False),
    sa.Column('amount_tiyn', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("meal_type IN ('breakfast', 'lunch', 'snack')", name=op.f('ck_supplier_claim_lines_meal_type_known')),
    sa.CheckConstraint('amount_tiyn >= 0', name=op.f('ck_supplier_claim_lines_amount_non_negative')),
    sa.CheckConstraint('meals >= 0', name=op.f('ck_supplier_claim_lines_meals_non_negative')),
    sa.ForeignKeyConstraint(['claim_id'], ['supplier_claims.id'], name=op.f('fk_supplier_claim_lines_claim_id_supplier_claims'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_supplier_claim_lines_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_claim_lines')),
    sa.UniqueConstraint('claim_id', 'school_id', 'serving_day', 'meal_type', name=op.f('uq_supplier_claim_lines_claim_id_school_id_serving_day_meal_type'))
    )
    op.create_table('period_close_checkpoints',
    sa.Column('closed_period_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_period_close_checkpoints_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['closed_period_id'], ['closed_periods.id'], name=op.f('fk_period_close_checkpoints_closed_period_id_closed_periods'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_period_close_checkpoints_school_id_schools')),
    sa.PrimaryKeyConstraint('closed_period_id', 'school_id', name=op.f('pk_period_close_checkpoints'))
    )
    with op.batch_alter_table('period_close_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_period_close_checkpoints_checkpoint_id'), ['checkpoint_id'], unique=False)

    # Not in batch mode: the ledger table must never be copied and recreated (its triggers would go).
    op.create_index('ix_ledger_entries_adjustment_candidates', 'ledger_entries', ['school_id', 'received_at'],
                    unique=False, postgresql_where=sa.text(ADJUSTMENT_CANDIDATE),
                    sqlite_where=sa.text(ADJUSTMENT_CANDIDATE))
    if op.get_bind().dialect.name == "postgresql":
        # Claims and period closes are written once and never changed by the service: no UPDATE or DELETE.
        op.execute(f"GRANT SELECT, INSERT ON {', '.join(NEW_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APP_ROLE = "wallet_app"
NEW_TABLES = ("supplier_claims", "supplier_claim_lines", "period_close_checkpoints")
ADJUSTMENT_CANDIDATE = "kind = 'void' OR reasons = 'period_closed'"


def downgrade() -> None:
    op.drop_index('ix_ledger_entries_adjustment_candidates', table_name='ledger_entries')

    with op.batch_alter_table('period_close_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_close_checkpoints_checkpoint_id'))

    op.drop_table('period_close_checkpoints')
    op.drop_table('supplier_claim_lines')
    op.drop_table('supplier_claims')
