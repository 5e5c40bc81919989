"""registry, calendar, menus, terminals

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:47:35.320771
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wallet.models.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('eligibility_categories',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_kk', sa.String(length=200), nullable=False),
    sa.Column('name_ru', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_eligibility_categories'))
    )
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_kk', sa.String(length=200), nullable=False),
    sa.Column('name_ru', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_regions_code'))
    )
    op.create_table('students',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('iin', sa.String(length=12), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('patronymic', sa.String(length=100), nullable=True),
    sa.CheckConstraint('length(iin) = 12', name=op.f('ck_students_iin_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('iin', name=op.f('uq_students_iin'))
    )
    op.create_table('suppliers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bin', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.CheckConstraint('length(bin) = 12', name=op.f('ck_suppliers_bin_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('bin', name=op.f('uq_suppliers_bin'))
    )
    op.create_table('guardian_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_iin', sa.String(length=12), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.CheckConstraint("relation IN ('mother', 'father', 'guardian')", name=op.f('ck_guardian_links_relation_known')),
    sa.CheckConstraint('length(parent_iin) = 12', name=op.f('ck_guardian_links_iin_length')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_guardian_links_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardian_links')),
    sa.UniqueConstraint('parent_iin', 'student_id', name=op.f('uq_guardian_links_parent_iin_student_id'))
    )
    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardian_links_parent_iin'), ['parent_iin'], unique=False)
        batch_op.create_index(batch_op.f('ix_guardian_links_student_id'), ['student_id'], unique=False)

    op.create_table('schools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bin', sa.String(length=12), nullable=False),
    sa.Column('name_kk', sa.String(length=300), nullable=False),
    sa.Column('name_ru', sa.String(length=300), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(bin) = 12', name=op.f('ck_schools_bin_length')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_schools_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schools')),
    sa.UniqueConstraint('bin', name=op.f('uq_schools_bin'))
    )
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schools_region_id'), ['region_id'], unique=False)

    op.create_table('student_eligibility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.CheckConstraint('valid_from <= valid_to', name=op.f('ck_student_eligibility_period_order')),
    sa.ForeignKeyConstraint(['category_code'], ['eligibility_categories.code'], name=op.f('fk_student_eligibility_category_code_eligibility_categories')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_student_eligibility_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_student_eligibility')),
    sa.UniqueConstraint('student_id', 'category_code', 'valid_from', name=op.f('uq_student_eligibility_student_id_category_code_valid_from'))
    )
    with op.batch_alter_table('student_eligibility', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_student_eligibility_student_id'), ['student_id'], unique=False)

    op.create_table('calendar_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.CheckConstraint("kind IN ('serving', 'holiday', 'closure')", name=op.f('ck_calendar_days_kind_known')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_calendar_days_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_days')),
    sa.UniqueConstraint('school_id', 'day', name=op.f('uq_calendar_days_school_id_day'))
    )
    op.create_table('contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.CheckConstraint('valid_from <= valid_to', name=op.f('ck_contracts_period_order')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_contracts_school_id_schools')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_contracts_supplier_id_suppliers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('number', name=op.f('uq_contracts_number'))
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('class_name', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('grade BETWEEN 0 AND 12', name=op.f('ck_enrollments_grade_range')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from <= valid_to', name=op.f('ck_enrollments_period_order')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_enrollments_school_id_schools')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_enrollments_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('student_id', 'school_id', 'valid_from', name=op.f('uq_enrollments_student_id_school_id_valid_from'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_school_class', ['school_id', 'class_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_student_id'), ['student_id'], unique=False)

    op.create_table('menus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.CheckConstraint("meal_type IN ('breakfast', 'lunch', 'snack')", name=op.f('ck_menus_meal_type_known')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_menus_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_menus')),
    sa.UniqueConstraint('school_id', 'day', 'meal_type', name=op.f('uq_menus_school_id_day_meal_type'))
    )
    op.create_table('terminals',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', wallet.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', wallet.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_contact_at', wallet.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clock_offset_ms', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f('ck_terminals_status_known')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_terminals_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terminals'))
    )
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terminals_school_id'), ['school_id'], unique=False)

    op.create_table('contract_prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('meal_type', sa.String(length=16), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('price_tiyn', sa.Integer(), nullable=False),
    sa.CheckConstraint("meal_type IN ('breakfast', 'lunch', 'snack')", name=op.f('ck_contract_prices_meal_type_known')),
    sa.CheckConstraint('price_tiyn > 0', name=op.f('ck_contract_prices_price_positive')),
    sa.ForeignKeyConstraint(['category_code'], ['eligibility_categories.code'], name=op.f('fk_contract_prices_category_code_eligibility_categories')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_prices_contract_id_contracts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_prices')),
    sa.UniqueConstraint('contract_id', 'meal_type', 'category_code', name=op.f('uq_contract_prices_contract_id_meal_type_category_code'))
    )
    op.create_table('menu_dishes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('menu_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_kk', sa.String(length=200), nullable=False),
    sa.Column('name_ru', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('grams', sa.Integer(), nullable=False),
    sa.Column('kcal', sa.Integer(), nullable=False),
    sa.Column('allergens', sa.Text(), nullable=False),
    sa.CheckConstraint('grams > 0', name=op.f('ck_menu_dishes_grams_positive')),
    sa.CheckConstraint('kcal >= 0', name=op.f('ck_menu_dishes_kcal_non_negative')),
    sa.CheckConstraint('position > 0', name=op.f('ck_menu_dishes_position_positive')),
    sa.ForeignKeyConstraint(['menu_id'], ['menus.id'], name=op.f('fk_menu_dishes_menu_id_menus'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_menu_dishes')),
    sa.UniqueConstraint('menu_id', 'position', name=op.f('uq_menu_dishes_menu_id_position'))
    )

    categories = sa.table(
        "eligibility_categories",
        sa.column("code", sa.String), sa.column("name_kk", sa.String),
        sa.column("name_ru", sa.String), sa.column("name_en", sa.String),
    )
    # The programme's grounds for free meals; more can be added as configuration rows.
    op.bulk_insert(categories, [
        {"code": "primary_grades", "name_kk": "1-4 сынып оқушылары",
         "name_ru": "Учащиеся 1-4 классов", "name_en": "Pupils of grades 1-4"},
        {"code": "social_assistance", "name_kk": "Атаулы әлеуметтік көмек алатын отбасылардың балалары",
         "name_ru": "Дети из семей, получающих адресную социальную помощь",
         "name_en": "Children of families receiving targeted social assistance"},
        {"code": "low_income", "name_kk": "Табысы ең төменгі күнкөріс деңгейінен төмен отбасылардың балалары",
         "name_ru": "Дети из семей с доходом ниже прожиточного минимума",
         "name_en": "Children of families with income below the subsistence minimum"},
        {"code": "orphan", "name_kk": "Жетім балалар және ата-анасының қамқорлығынсыз қалған балалар",
         "name_ru": "Дети-сироты и дети, оставшиеся без попечения родителей",
         "name_en": "Orphans and children without parental care"},
        {"code": "large_family", "name_kk": "Көп балалы отбасылардың балалары",
         "name_ru": "Дети из многодетных семей", "name_en": "Children of large families"},
    ])


def downgrade() -> None:
    op.drop_table('menu_dishes')
    op.drop_table('contract_prices')
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_terminals_school_id'))

    op.drop_table('terminals')
    op.drop_table('menus')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_student_id'))
        batch_op.drop_index('ix_enrollments_school_class')

    op.drop_table('enrollments')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracts_supplier_id'))
        batch_op.drop_index(batch_op.f('ix_contracts_school_id'))

    op.drop_table('contracts')
    op.drop_table('calendar_days')
    with op.batch_alter_table('student_eligibility', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_eligibility_student_id'))

    op.drop_table('student_eligibility')
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schools_region_id'))

    op.drop_table('schools')
    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardian_links_student_id'))
        batch_op.drop_index(batch_op.f('ix_guardian_links_parent_iin'))

    op.drop_table('guardian_links')
    op.drop_table('suppliers')
    op.drop_table('students')
    op.drop_table('regions')
    op.drop_table('eligibility_categories')
