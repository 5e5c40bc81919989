"""verification_runs: a record of every run of the ledger check, whoever ran it

`wallet verify`, the auditor endpoint and the console's button each append one row per run: when, who,
which scope, what was checked, the result and the first thing that did not match. The database refuses to
change or remove a run (triggers on both databases, TRUNCATE refused on PostgreSQL) and the application
role may only read and append, as for the ledger.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:47:08.337418
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verification_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('started_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('chains_checked', sa.Integer(), nullable=False),
    sa.Column('entries_checked', sa.BigInteger(), nullable=False),
    sa.Column('checkpoints_checked', sa.Integer(), nullable=False),
    sa.Column('chains_failed', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('problem_school_id', sa.Integer(), nullable=True),
    sa.Column('problem_kind', sa.String(length=16), nullable=True),
    sa.Column('problem_position', sa.BigInteger(), nullable=True),
    sa.Column('problem_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.CheckConstraint("problem_kind IS NULL OR problem_kind IN ('entry', 'head', 'checkpoint')", name=op.f('ck_verification_runs_problem_kind_known')),
    sa.CheckConstraint("result <> 'ok' OR problem IS NULL", name=op.f('ck_verification_runs_ok_has_no_problem')),
    sa.CheckConstraint("result = 'ok' OR problem IS NOT NULL", name=op.f('ck_verification_runs_failure_says_why')),
    sa.CheckConstraint("result IN ('ok', 'mismatch', 'error')", name=op.f('ck_verification_runs_result_known')),
    sa.CheckConstraint("via IN ('cli', 'api', 'console')", name=op.f('ck_verification_runs_via_known')),
    sa.CheckConstraint('finished_at >= started_at', name=op.f('ck_verification_runs_finished_after_start')),
    sa.ForeignKeyConstraint(['problem_school_id'], ['schools.id'], name=op.f('fk_verification_runs_problem_school_id_schools')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_verification_runs_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_runs'))
    )
    with op.batch_alter_table('verification_runs', schema=None) as batch_op:
        batch_op.create_index('ix_verification_runs_school_id_id', ['school_id', 'id'], unique=False)

    _refuse_changes_to_runs()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT ON {RUNS} TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APP_ROLE = "wallet_app"
RUNS = "verification_runs"


def _refuse_changes_to_runs() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION verification_runs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(f"CREATE TRIGGER {RUNS}_append_only BEFORE UPDATE OR DELETE ON {RUNS} "
                   "FOR EACH ROW EXECUTE FUNCTION verification_runs_refuse_change()")
        op.execute(f"CREATE TRIGGER {RUNS}_no_truncate BEFORE TRUNCATE ON {RUNS} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION verification_runs_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {RUNS}_no_{action.lower()} BEFORE {action} ON {RUNS} "
                       f"BEGIN SELECT RAISE(ABORT, 'table {RUNS} is append-only: {action} refused'); END")



def downgrade() -> None:
    with op.batch_alter_table('verification_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_runs_school_id_id')

    op.drop_table('verification_runs')  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS verification_runs_refuse_change()")
