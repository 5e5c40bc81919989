"""child_month_flags: ledger_child_month_totals holds one row per child, month and meal type

Before, the table held a row per child, month, meal type, kind, verdict and reasons, and the reconciliation
aggregated all of a month's rows (hundreds of thousands for a region) to find the few children to look at.
Now each row holds the sums that decide it: `net` (billable meals minus billable voids), `bits` (the same
signed sum of 2^(day - 1)), `dup` / `not_enrolled` (refused meal attempts whose reasons name them) and
`dup_days` / `not_enrolled_days` (the bit or of their days). A child is flagged when `dup > 0 OR
not_enrolled > 0 OR bit_count(bits) != net`, a test on one row.

The table is an index over the ledger, so it is re-created and filled again from the entries (PostgreSQL:
INSERT ... SELECT; SQLite: a Python bit-or aggregate registered on the migration's connection). The
downgrade restores 0011's shape the same way. Self-contained on purpose, like 0011; `wallet totals check`
compares the table with the entries at any time.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

APP_ROLE = "wallet_app"
TABLE = "ledger_child_month_totals"


def upgrade() -> None:
    op.drop_table(TABLE)
    op.create_table(TABLE,
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.Column('bits', sa.BigInteger(), nullable=False),
    sa.Column('dup', sa.BigInteger(), nullable=False),
    sa.Column('dup_days', sa.BigInteger(), nullable=False),
    sa.Column('not_enrolled', sa.BigInteger(), nullable=False),
    sa.Column('not_enrolled_days', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('school_id', 'month', 'student_id', 'meal_type', name=op.f('pk_ledger_child_month_totals'))
    )
    bit, month, bit_or = _functions()
    billable = "e.verdict = 'billable'"
    sign = "CASE WHEN e.kind = 'meal' THEN 1 ELSE -1 END"
    dup = "e.kind = 'meal' AND e.verdict != 'billable' AND e.reasons LIKE '%duplicate_meal%'"
    not_enrolled = "e.kind = 'meal' AND e.verdict != 'billable' AND e.reasons LIKE '%not_enrolled%'"
    keys = f"e.school_id, {month}, e.student_id, e.meal_type"
    op.execute(
        f"INSERT INTO {TABLE} (school_id, month, student_id, meal_type, net, bits, dup, dup_days, not_enrolled, "
        f"not_enrolled_days) SELECT {keys}, "
        f"COALESCE(sum(CASE WHEN {billable} THEN {sign} ELSE 0 END), 0), "
        f"COALESCE(sum(CASE WHEN {billable} THEN {sign} * {bit} ELSE 0 END), 0), "
        f"COALESCE(sum(CASE WHEN {dup} THEN 1 ELSE 0 END), 0), "
        f"COALESCE({bit_or}(CASE WHEN {dup} THEN {bit} ELSE 0 END), 0), "
        f"COALESCE(sum(CASE WHEN {not_enrolled} THEN 1 ELSE 0 END), 0), "
        f"COALESCE({bit_or}(CASE WHEN {not_enrolled} THEN {bit} ELSE 0 END), 0) "
        f"FROM ledger_entries e WHERE e.student_id IS NOT NULL GROUP BY {keys}")
    _grant()


def downgrade() -> None:
    op.drop_table(TABLE)
    op.create_table(TABLE,
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('bits', sa.BigInteger(), nullable=False),
    sa.Column('mask', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('school_id', 'month', 'student_id', 'meal_type', 'kind', 'verdict', 'reasons', name=op.f('pk_ledger_child_month_totals'))
    )
    bit, month, bit_or = _functions()
    keys = f"e.school_id, {month}, e.student_id, e.meal_type, e.kind, e.verdict, e.reasons"
    op.execute(f"INSERT INTO {TABLE} (school_id, month, student_id, meal_type, kind, verdict, reasons, n, bits, "
               f"mask) SELECT {keys}, count(*), sum({bit}), {bit_or}({bit}) FROM ledger_entries e "
               f"WHERE e.student_id IS NOT NULL GROUP BY {keys}")
    _grant()


def _functions() -> tuple[str, str, str]:
    """The day's bit, the month of the serving day and a bit-or aggregate, in the database's SQL."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        return "(1::bigint << (extract(day FROM e.serving_day)::int - 1))", "to_char(e.serving_day, 'YYYY-MM')", \
            "bit_or"
    bind.connection.driver_connection.create_aggregate("wallet_0012_bit_or", 1, _BitOr)
    return "(1 << (CAST(strftime('%d', e.serving_day) AS INTEGER) - 1))", "strftime('%Y-%m', e.serving_day)", \
        "wallet_0012_bit_or"


def _grant() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO {APP_ROLE}")


class _BitOr:
    def __init__(self) -> None:
        self.value = 0

    def step(self, value: int | None) -> None:
        self.value |= value or 0

    def finalize(self) -> int:
        return self.value
