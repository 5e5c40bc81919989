"""The database itself keeps the ledger append-only: UPDATE, DELETE (and TRUNCATE on PostgreSQL) of
`ledger_entries` and `checkpoints` are refused for everyone, and the `wallet_app` role lacks the grants."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from wallet.db import transaction
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.signing import SigningKey
from wallet.models import Checkpoint, LedgerEntry, Region, School

T0 = dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.UTC)
KEY = SigningKey.generate()

CHANGES = [
    ("ledger_entries", "UPDATE ledger_entries SET price_tiyn = price_tiyn + 1"),
    ("ledger_entries", "UPDATE ledger_entries SET payload = payload || ' '"),
    ("ledger_entries", "DELETE FROM ledger_entries"),
    ("checkpoints", "UPDATE checkpoints SET signature = 'x'"),
    ("checkpoints", "DELETE FROM checkpoints"),
]


def _entry(i: int) -> LedgerEntry:
    """Filled in the way wallet/ingest/service.py fills in an entry."""
    served = T0 + dt.timedelta(minutes=i)
    return LedgerEntry(
        kind="meal", event_id=uuid.uuid4(), terminal_id="T-001", device_seq=i, student_ref=f"stu-{i}",
        student_id=None, meal_type="lunch", method="qr", served_at=served, serving_day=served.date(),
        billing_month=f"{served:%Y-%m}", received_at=served, verdict="billable", reasons="",
        category_code="grade_1_4", contract_id=None, price_tiyn=45000, content_hash=bytes(32),
    )


def _append(session, school_id: int, entries: list[LedgerEntry]) -> None:
    append_entries(session, lock_chain_head(session, school_id), entries)


@pytest.fixture
def school_id(session_factory) -> int:
    with transaction(session_factory) as session:
        region = Region(code="AST", name_kk="Астана", name_ru="Астана")
        session.add(region)
        session.flush()
        school = School(bin="987654321098", name_kk="Мектеп", name_ru="Школа", region_id=region.id)
        session.add(school)
        session.flush()
        _append(session, school.id, [_entry(i) for i in range(1, 4)])
        make_checkpoint(session, school.id, KEY)
        return school.id


def _snapshot(session_factory) -> dict[str, list[tuple]]:
    with session_factory() as session:
        return {
            "ledger_entries": [tuple(r) for r in session.execute(
                select(LedgerEntry.__table__).order_by(LedgerEntry.id))],
            "checkpoints": [tuple(r) for r in session.execute(
                select(Checkpoint.__table__).order_by(Checkpoint.id))],
        }


@pytest.mark.parametrize(("table", "statement"), CHANGES)
def test_update_and_delete_are_refused(session_factory, school_id, table, statement):
    before = _snapshot(session_factory)
    assert len(before[table]) >= 1
    with session_factory() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert _snapshot(session_factory) == before


@pytest.mark.parametrize("table", ["ledger_entries", "checkpoints"])
def test_orm_changes_are_refused_too(session_factory, school_id, table):
    model = {"ledger_entries": LedgerEntry, "checkpoints": Checkpoint}[table]
    before = _snapshot(session_factory)
    for change in ("update", "delete"):
        with session_factory() as session:
            row = session.scalars(select(model)).first()
            if change == "update" and table == "checkpoints":
                row.reason = "changed"
            elif change == "update":
                row.note = "changed"
            else:
                session.delete(row)
            with pytest.raises(DBAPIError, match="append-only"):
                session.flush()
            session.rollback()
    assert _snapshot(session_factory) == before


def _postgres_only(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")


@pytest.mark.parametrize("table", ["ledger_entries", "checkpoints"])
def test_truncate_is_refused_on_postgresql(engine, session_factory, school_id, table):
    _postgres_only(engine)
    before = _snapshot(session_factory)
    with session_factory() as session:
        with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"):
            session.execute(text(f"TRUNCATE {table} CASCADE"))
        session.rollback()
    assert _snapshot(session_factory) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET note = 'x'",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries",
        "UPDATE checkpoints SET reason = 'x'",
        "DELETE FROM checkpoints",
        "TRUNCATE checkpoints",
    ],
)
def test_application_role_lacks_the_grants_to_change_the_ledger(engine, session_factory, school_id, statement):
    _postgres_only(engine)
    before = _snapshot(session_factory)
    with session_factory() as session:
        session.execute(text("SET LOCAL ROLE wallet_app"))
        # Refused by the missing grant, before any trigger runs.
        with pytest.raises(DBAPIError, match="permission denied for table"):
            session.execute(text(statement))
        session.rollback()
    assert _snapshot(session_factory) == before


def test_application_role_may_read_and_append(engine, session_factory, school_id):
    _postgres_only(engine)
    with session_factory() as session:
        session.execute(text("SET LOCAL ROLE wallet_app"))
        assert session.scalar(text("SELECT current_user")) == "wallet_app"
        assert session.scalar(text("SELECT count(*) FROM ledger_entries")) == 3
        assert session.scalar(text("SELECT count(*) FROM checkpoints")) == 1
        _append(session, school_id, [_entry(4), _entry(5)])
        make_checkpoint(session, school_id, KEY)
        session.commit()
    with session_factory() as session:
        positions = session.scalars(select(LedgerEntry.position).order_by(LedgerEntry.position)).all()
        assert positions == [1, 2, 3, 4, 5]
        assert session.scalars(select(Checkpoint.tree_size).order_by(Checkpoint.tree_size)).all() == [3, 5]
