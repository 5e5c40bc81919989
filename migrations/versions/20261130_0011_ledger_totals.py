"""ledger_totals: derived totals of the ledger, kept on append, read by an open month's reconciliation

`ledger_day_totals` groups entries exactly as the reconciliation's first aggregation does (school, serving
day, meal type, category, contract, terminal, kind, verdict, reasons, late); `ledger_child_month_totals`
groups a child's entries of a month (meal type, kind, verdict, reasons) with the days as bits. Key columns
that may be NULL on the entries hold a sentinel ('' or 0), so the primary key serves the upserts on both
databases. Both tables are filled here from the existing entries: on PostgreSQL with INSERT ... SELECT
(lateness through AT TIME ZONE the school's zone), on SQLite with a Python function for lateness. This
migration repeats that computation on purpose instead of importing the application's (migrations stay
self-contained); `wallet totals check` compares the tables with the entries at any time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 05:55:44.588366
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_child_month_totals',
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
    op.create_table('ledger_day_totals',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('serving_day', sa.Date(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('seq_min', sa.BigInteger(), nullable=True),
    sa.Column('seq_max', sa.BigInteger(), nullable=True),
    sa.Column('seq_n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('school_id', 'serving_day', 'meal_type', 'category_code', 'contract_id', 'terminal_id', 'kind', 'verdict', 'reasons', 'late', name=op.f('pk_ledger_day_totals'))
    )
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {APP_ROLE}")


APP_ROLE = "wallet_app"
TABLES = ("ledger_day_totals", "ledger_child_month_totals")

_DAY_COLUMNS = ("school_id, serving_day, meal_type, category_code, contract_id, terminal_id, kind, verdict, "
                "reasons, late, n, amount, seq_min, seq_max, seq_n")
_CHILD_COLUMNS = "school_id, month, student_id, meal_type, kind, verdict, reasons, n, bits, mask"


def _day_select(late: str) -> str:
    keys = (f"e.school_id, e.serving_day, e.meal_type, COALESCE(e.category_code, ''), COALESCE(e.contract_id, 0), "
            f"COALESCE(e.terminal_id, ''), e.kind, e.verdict, e.reasons, {late}")
    return (f"SELECT {keys}, count(*), COALESCE(sum(e.price_tiyn), 0), min(e.device_seq), max(e.device_seq), "
            f"count(e.device_seq) FROM ledger_entries e JOIN schools s ON s.id = e.school_id GROUP BY {keys}")


def _backfill() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        late = ("CASE WHEN e.received_at >= ((e.serving_day + 1)::timestamp AT TIME ZONE s.timezone) "
                "THEN 1 ELSE 0 END")
        bit = "(1::bigint << (extract(day FROM e.serving_day)::int - 1))"
        month = "to_char(e.serving_day, 'YYYY-MM')"
        mask = f"bit_or({bit})"
    else:
        raw = bind.connection.driver_connection
        raw.create_function("wallet_0011_is_late", 3, _is_late, deterministic=True)
        raw.create_aggregate("wallet_0011_bit_or", 1, _BitOr)
        late = "wallet_0011_is_late(e.received_at, e.serving_day, s.timezone)"
        bit = "(1 << (CAST(strftime('%d', e.serving_day) AS INTEGER) - 1))"
        month = "strftime('%Y-%m', e.serving_day)"
        mask = f"wallet_0011_bit_or({bit})"
    op.execute(f"INSERT INTO ledger_day_totals ({_DAY_COLUMNS}) {_day_select(late)}")
    keys = f"e.school_id, {month}, e.student_id, e.meal_type, e.kind, e.verdict, e.reasons"
    op.execute(f"INSERT INTO ledger_child_month_totals ({_CHILD_COLUMNS}) "
               f"SELECT {keys}, count(*), sum({bit}), {mask} FROM ledger_entries e "
               f"WHERE e.student_id IS NOT NULL GROUP BY {keys}")


def _is_late(received_at: str, serving_day: str, zone: str) -> int:
    received = dt.datetime.fromisoformat(received_at)
    received = received.replace(tzinfo=dt.UTC) if received.tzinfo is None else received
    day = dt.date.fromisoformat(serving_day) + dt.timedelta(days=1)
    return 1 if received >= dt.datetime.combine(day, dt.time(), ZoneInfo(zone)) else 0


class _BitOr:
    def __init__(self) -> None:
        self.value = 0

    def step(self, value: int | None) -> None:
        self.value |= value or 0

    def finalize(self) -> int:
        return self.value


def downgrade() -> None:
    op.drop_table('ledger_day_totals')
    op.drop_table('ledger_child_month_totals')
