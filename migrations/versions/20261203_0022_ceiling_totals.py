"""ceiling_totals: eligible children per school, serving day and ground, for the reconciliation's ceiling

`ceiling_day_totals` holds the registry's half of the ceiling (each child once a day, under the first of
its grounds in the billing priority), derived from enrollments, eligibility and the calendar;
`ceiling_stale_schools` names the schools whose rows no longer follow from those tables. Triggers on the
three tables mark a school stale whatever writes them (imports, the registry feed, the console, a
hand-made correction), so a stale school's ceiling is computed from the registry as before, and only a
school marked clean by `wallet.ceiling_days.refresh` is read from the rows. PostgreSQL
marks once a statement (transition tables), SQLite once a row. Every existing school starts stale: the
first refresh (`wallet totals rebuild`) derives its rows.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0020'
branch_labels = None
depends_on = None

APP_ROLE = "wallet_app"
TABLES = ("ceiling_day_totals", "ceiling_stale_schools")
# table -> how its rows name the schools they concern
_MARKED = {
    "enrollments": "SELECT school_id FROM {rows}",
    "calendar_days": "SELECT school_id FROM {rows}",
    "student_eligibility": "SELECT e.school_id FROM {rows} r JOIN enrollments e ON e.student_id = r.student_id",
}
_MARK = "ON CONFLICT (school_id) DO UPDATE SET changes = ceiling_stale_schools.changes + 1"


def upgrade() -> None:
    op.create_table('ceiling_day_totals',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('children', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('school_id', 'day', 'category_code', name=op.f('pk_ceiling_day_totals'))
    )
    op.create_table('ceiling_stale_schools',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('changes', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_ceiling_stale_schools'))
    )
    op.execute("INSERT INTO ceiling_stale_schools (school_id, changes) SELECT id, 1 FROM schools")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {APP_ROLE}")
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    for table, schools in _MARKED.items():
        marks = {
            "INSERT": f"INSERT INTO ceiling_stale_schools (school_id, changes) SELECT DISTINCT s.school_id, 1 "
                      f"FROM ({schools.format(rows='new_rows')}) s {_MARK};",
            "UPDATE": f"INSERT INTO ceiling_stale_schools (school_id, changes) SELECT s.school_id, 1 "
                      f"FROM ({schools.format(rows='new_rows')} UNION {schools.format(rows='old_rows')}) s {_MARK};",
            "DELETE": f"INSERT INTO ceiling_stale_schools (school_id, changes) SELECT DISTINCT s.school_id, 1 "
                      f"FROM ({schools.format(rows='old_rows')}) s {_MARK};",
        }
        for action, statement in marks.items():
            name = f"{table}_ceiling_{action.lower()}"
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {statement} RETURN NULL; END $$")
            referencing = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                           "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[action]
            op.execute(f"CREATE TRIGGER {name} AFTER {action} ON {table} REFERENCING {referencing} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")


def _sqlite_triggers() -> None:
    for table, schools in _MARKED.items():
        for action, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            statements = []
            for row in rows:
                if table == "student_eligibility":
                    source = f"SELECT DISTINCT school_id, 1 FROM enrollments WHERE student_id = {row}.student_id"
                else:
                    source = f"SELECT {row}.school_id, 1 WHERE true"
                statements.append(f"INSERT INTO ceiling_stale_schools (school_id, changes) {source} "
                                  "ON CONFLICT (school_id) DO UPDATE SET changes = changes + 1;")
            op.execute(f"CREATE TRIGGER {table}_ceiling_{action.lower()} AFTER {action} ON {table} "
                       f"BEGIN {' '.join(statements)} END")


def downgrade() -> None:
    for table in _MARKED:
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_ceiling_{action}"
                       + (f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""))
            if op.get_bind().dialect.name == "postgresql":
                op.execute(f"DROP FUNCTION IF EXISTS {table}_ceiling_{action}()")
    op.drop_table('ceiling_stale_schools')
    op.drop_table('ceiling_day_totals')
