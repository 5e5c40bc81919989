"""vouchers: offers, consent (append-only answers), transitions (append-only), consent texts with a first version

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 03:03:01.798320
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import wallet.models.base  # noqa: F401 - autogenerate renders wallet.models.base.UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_texts',
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('text_kk', sa.Text(), nullable=False),
    sa.Column('text_ru', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('published_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_consent_texts'))
    )
    op.create_table('vouchers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('school_year', sa.String(length=9), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('offered_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('offer_expires_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('offered', 'accepted', 'declined', 'active', 'suspended', 'expired', 'withdrawn')", name=op.f('ck_vouchers_status_known')),
    sa.CheckConstraint('length(school_year) = 9', name=op.f('ck_vouchers_school_year_format')),
    sa.CheckConstraint('valid_from <= valid_to', name=op.f('ck_vouchers_period_order')),
    sa.ForeignKeyConstraint(['category_code'], ['eligibility_categories.code'], name=op.f('fk_vouchers_category_code_eligibility_categories')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_vouchers_school_id_schools')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_vouchers_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('student_id', 'school_id', 'school_year', name=op.f('uq_vouchers_student_id_school_id_school_year'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index('ix_vouchers_school_status', ['school_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_student_id'), ['student_id'], unique=False)

    op.create_table('voucher_consents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('voucher_id', sa.Uuid(), nullable=False),
    sa.Column('parent_iin', sa.String(length=12), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('text_version', sa.String(length=32), nullable=False),
    sa.Column('at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('accepted', 'declined', 'withdrawn')", name=op.f('ck_voucher_consents_decision_known')),
    sa.CheckConstraint('length(parent_iin) = 12', name=op.f('ck_voucher_consents_iin_length')),
    sa.ForeignKeyConstraint(['text_version'], ['consent_texts.version'], name=op.f('fk_voucher_consents_text_version_consent_texts')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_consents_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_consents'))
    )
    with op.batch_alter_table('voucher_consents', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_consents_voucher_id_id', ['voucher_id', 'id'], unique=False)

    op.create_table('voucher_transitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('voucher_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=80), nullable=False),
    sa.Column('at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("actor_role IN ('system', 'parent', 'school_admin', 'operator')", name=op.f('ck_voucher_transitions_actor_role_known')),
    sa.CheckConstraint("from_status IS NULL OR from_status IN ('offered', 'accepted', 'declined', 'active', 'suspended', 'expired', 'withdrawn')", name=op.f('ck_voucher_transitions_from_status_known')),
    sa.CheckConstraint("to_status IN ('offered', 'accepted', 'declined', 'active', 'suspended', 'expired', 'withdrawn')", name=op.f('ck_voucher_transitions_to_status_known')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_transitions_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_transitions'))
    )
    with op.batch_alter_table('voucher_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_transitions_voucher_id_id', ['voucher_id', 'id'], unique=False)

    _publish_first_consent_text()
    _refuse_changes_to_append_only_tables()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(MUTABLE_TABLES)} TO {APP_ROLE}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


APPEND_ONLY_TABLES = ("voucher_transitions", "voucher_consents")
MUTABLE_TABLES = ("vouchers", "consent_texts")
APP_ROLE = "wallet_app"
FIRST_CONSENT_VERSION = "2026-1"


def _publish_first_consent_text() -> None:
    """The consent a guardian gives when accepting a voucher; later versions are added as new rows."""
    table = sa.table(
        "consent_texts", sa.column("version", sa.String), sa.column("text_kk", sa.Text),
        sa.column("text_ru", sa.Text), sa.column("text_en", sa.Text),
        sa.column("published_at", wallet.models.base.UTCDateTime(timezone=True)),
    )
    op.bulk_insert(table, [{
        "version": FIRST_CONSENT_VERSION,
        "text_kk": (
            "Мен баламның тегін ыстық тамақ алуы үшін оның дербес деректерін (аты-жөні, ЖСН, мектебі, сыныбы, "
            "тамақтану есебі) мектепте тамақтандыруды ұйымдастыру мақсатында ғана өңдеуге келісемін. "
            "Келісімді кез келген уақытта кері қайтарып ала аламын."
        ),
        "text_ru": (
            "Я даю согласие на обработку персональных данных моего ребёнка (ФИО, ИИН, школа, класс, учёт "
            "питания) исключительно для организации бесплатного горячего питания в школе. Я могу отозвать "
            "согласие в любое время."
        ),
        "text_en": (
            "I consent to the processing of my child's personal data (name, IIN, school, class, meal records) "
            "solely to provide free hot meals at school. I may withdraw this consent at any time."
        ),
        "published_at": dt.datetime(2026, 8, 1, tzinfo=dt.UTC),
    }])


def _refuse_changes_to_append_only_tables() -> None:
    """Voucher transitions and consent answers are appended to, never changed (as the ledger, migration 0002)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION vouchers_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION vouchers_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION vouchers_refuse_change()"
            )
    else:
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {action} refused'); END"
                )


def downgrade() -> None:
    with op.batch_alter_table('voucher_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_transitions_voucher_id_id')

    op.drop_table('voucher_transitions')
    with op.batch_alter_table('voucher_consents', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_consents_voucher_id_id')

    op.drop_table('voucher_consents')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_student_id'))
        batch_op.drop_index('ix_vouchers_school_status')

    op.drop_table('vouchers')
    op.drop_table('consent_texts')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS vouchers_refuse_change()")
