"""Monthly partitions on a real PostgreSQL (migration 0020, wallet.partitions): partitions made ahead of time
with their grants and triggers, an append across a month boundary, the cross-month keys of
ledger_entry_keys, UPDATE/DELETE/TRUNCATE refused on a partition itself, and the migration of a database
that holds data (`verify` clean before, after, and after the way back)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from cli.main import cli
from tests.conftest import POSTGRES_URL, _admin_engine
from wallet import migrate
from wallet.db import make_engine, make_session_factory, transaction
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.signing import SigningKey
from wallet.ledger.verify import verify_all
from wallet.models import ChildAccessLog, LedgerEntry, MealFeedback, ParentNotification, Region, School, UsedTokenId
from wallet.partitions.ensure import ensure_partitions, existing_partitions, months_ready
from wallet.partitions.spec import ENSURED_TABLES, PARTITIONED_TABLES

# The revision just before monthly partitions (0020): the models' columns all exist there.
BEFORE_PARTITIONS = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0020").down_revision

KEY = SigningKey.generate()
NOV, DEC, JAN = (dt.datetime(2026, m, d, 6, 30, tzinfo=dt.UTC) for m, d in ((11, 20), (12, 31), (1, 1)))
JAN = JAN.replace(year=2027)
APPEND_ONLY = [p.table for p in PARTITIONED_TABLES if p.refuse_function]


@pytest.fixture
def pg(engine: Engine) -> Iterator[Engine]:
    """The run's PostgreSQL database; partitions a test makes are dropped afterwards (emptying the database
    between tests keeps tables), so the next tests see the migration's partitions only."""
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's (SQLite keeps plain tables)")
    with engine.connect() as conn:
        before = {name for spec in ENSURED_TABLES for name in existing_partitions(conn, spec.table)}
    yield engine
    with engine.begin() as conn:
        for spec in ENSURED_TABLES:
            for name in existing_partitions(conn, spec.table) - before:
                conn.execute(text(f"DROP TABLE {name}"))


def _entry(seq: int, at: dt.datetime, *, event_id: uuid.UUID | None = None, terminal: str = "T-001") -> LedgerEntry:
    student = uuid.uuid4()
    return LedgerEntry(
        kind="meal", event_id=event_id or uuid.uuid4(), terminal_id=terminal, device_seq=seq,
        student_ref=str(student), student_id=student, meal_type="lunch", method="qr", served_at=at,
        serving_day=at.date(), billing_month=f"{at:%Y-%m}", received_at=at, verdict="billable", reasons="",
        category_code="grade_1_4", contract_id=None, price_tiyn=45000, content_hash=bytes(32),
    )


def _school(session, bin_: str = "987654321098") -> int:
    region = session.scalar(select(Region).where(Region.code == "AST"))
    if region is None:
        region = Region(code="AST", name_kk="Астана", name_ru="Астана")
        session.add(region)
        session.flush()
    school = School(bin=bin_, name_kk="Мектеп", name_ru="Школа", region_id=region.id)
    session.add(school)
    session.flush()
    return school.id


def _append(session, school_id: int, entries: list[LedgerEntry]) -> None:
    append_entries(session, lock_chain_head(session, school_id), entries)


def _partition_of(conn, table: str, row_id: int) -> str:
    return conn.execute(text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :i"), {"i": row_id}).scalar()


def _all_ok(session_factory) -> bool:
    reports = verify_all(session_factory, {KEY.key_id: KEY.public_key_raw})
    return bool(reports) and all(r.ok for r in reports)


# --- partitions ahead of time -----------------------------------------------------------------------


def test_partitions_are_made_ahead_with_grants_and_the_truncate_refusal(pg):
    with pg.begin() as conn:
        report = ensure_partitions(conn, dt.datetime(2027, 5, 15, tzinfo=dt.UTC), months_ahead=2)
        assert {"ledger_entries_p202705", "ledger_entries_p202706", "ledger_entries_p202707",
                "used_token_ids_p202707", "child_access_log_p202706"} <= set(report.created)
        assert months_ready(conn, dt.datetime(2027, 5, 15, tzinfo=dt.UTC)) == 2
        assert months_ready(conn, dt.datetime(2027, 8, 1, tzinfo=dt.UTC)) == -1
        again = ensure_partitions(conn, dt.datetime(2027, 5, 15, tzinfo=dt.UTC), months_ahead=2)
        assert again.created == [] and again.blocked == []
        for spec in ENSURED_TABLES:
            name = f"{spec.table}_p202707"
            assert name in existing_partitions(conn, spec.table)
            privileges = [conn.execute(text(
                "SELECT has_table_privilege('wallet_app', :r, 'SELECT'), "
                "has_table_privilege('wallet_app', :r, 'INSERT'), "
                "has_table_privilege('wallet_app', :r, 'UPDATE'), has_table_privilege('wallet_app', :r, 'DELETE')"),
                {"r": relation}).one() for relation in (name, spec.table)]
            assert privileges[0] == privileges[1] and privileges[0][:2] == (True, True), name
            truncate_trigger = conn.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:p AS regclass) AND tgname = :n"),
                {"p": name, "n": f"{name}_no_truncate"}).scalar()
            assert truncate_trigger == (1 if spec.refuse_function else 0), name


def test_the_cli_makes_partitions_and_its_check_fails_when_they_are_short(pg, database_url, monkeypatch):
    monkeypatch.setenv("WALLET_DATABASE_URL", database_url)
    runner = CliRunner()
    short = runner.invoke(cli, ["partitions", "ensure", "--check", "--months-ahead", "9"])
    assert short.exit_code == 1, short.output
    assert "fewer than 9" in short.output
    made = runner.invoke(cli, ["partitions", "ensure", "--months-ahead", "9"])
    assert made.exit_code == 0, made.output
    assert "created" in made.output
    checked = runner.invoke(cli, ["partitions", "ensure", "--check", "--months-ahead", "9"])
    assert checked.exit_code == 0, checked.output


# --- appends, keys and refusals ---------------------------------------------------------------------


def test_an_append_across_a_month_boundary_lands_in_two_partitions_and_verifies(pg, session_factory):
    with pg.begin() as conn:
        ensure_partitions(conn, DEC, months_ahead=1)
    with transaction(session_factory) as session:
        school = _school(session)
        _append(session, school, [_entry(1, DEC), _entry(2, DEC + dt.timedelta(hours=17, minutes=29))])
        make_checkpoint(session, school, KEY)
        _append(session, school, [_entry(3, JAN), _entry(4, JAN + dt.timedelta(minutes=1))])
        make_checkpoint(session, school, KEY)
    with pg.connect() as conn:
        rows = conn.execute(text(
            "SELECT position, tableoid::regclass::text FROM ledger_entries ORDER BY position")).all()
        keys = conn.execute(text("SELECT count(*) FROM ledger_entry_keys")).scalar()
    assert rows == [(1, "ledger_entries_p202612"), (2, "ledger_entries_p202612"),
                    (3, "ledger_entries_p202701"), (4, "ledger_entries_p202701")]
    assert keys == 4
    assert _all_ok(session_factory)


@pytest.mark.parametrize("clash", ["event_id", "device_seq", "position"])
def test_keys_hold_across_partitions(pg, session_factory, clash):
    with pg.begin() as conn:
        ensure_partitions(conn, DEC, months_ahead=1)
    with transaction(session_factory) as session:
        school = _school(session)
        first = _entry(1, DEC)
        _append(session, school, [first])
        event_id = first.event_id
    with session_factory() as session:
        late = _entry(1 if clash == "device_seq" else 2, JAN,
                      event_id=event_id if clash == "event_id" else None)
        with pytest.raises(IntegrityError, match="ledger_entry_keys"):
            if clash == "position":  # written past the chain head's lock, as a bug would
                late.position, late.leaf_hash, late.chain_hash, late.payload = 1, bytes(32), bytes(32), "{}"
                late.school_id = school
                session.add(late)
            else:
                _append(session, school, [late])
            session.flush()
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_the_same_event_id_at_another_school_is_another_key(pg, session_factory):
    """Keys are per school (the Citus distribution column, docs/decisions.md): a second school may hold an
    entry with the first school's event id; its own chain is untouched by it."""
    with pg.begin() as conn:
        ensure_partitions(conn, DEC, months_ahead=1)
    with transaction(session_factory) as session:
        one, two = _school(session, "111111111111"), _school(session, "222222222222")
        shared = uuid.uuid4()
        _append(session, one, [_entry(1, DEC, event_id=shared)])
        _append(session, two, [_entry(1, JAN, event_id=shared, terminal="T-002")])
    assert _all_ok(session_factory)


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("statement", ["UPDATE {p} SET id = id", "DELETE FROM {p}", "TRUNCATE {p}"])
def test_a_partition_itself_refuses_changes(pg, session_factory, table, statement):
    with pg.begin() as conn:
        ensure_partitions(conn, DEC, months_ahead=1)
    with transaction(session_factory) as session:
        school = _school(session)
        _append(session, school, [_entry(1, DEC)])
        session.add(ChildAccessLog(at=DEC, student_id=uuid.uuid4(), actor_role="parent", actor_id="p",
                                   action="meals"))
    partition = f"{table}_p202612"
    for role in ("owner", "wallet_app"):
        with session_factory() as session:
            if role == "wallet_app":
                session.execute(text("SET LOCAL ROLE wallet_app"))
            expected = "append-only" if role == "owner" else "permission denied"
            with pytest.raises(DBAPIError, match=expected):
                session.execute(text(statement.format(p=partition)))
            session.rollback()
    with pg.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {partition}")).scalar() == 1


def test_the_ledger_entry_keys_refuse_changes(pg, session_factory):
    with pg.begin() as conn:
        ensure_partitions(conn, DEC, months_ahead=1)
    with transaction(session_factory) as session:
        _append(session, _school(session), [_entry(1, DEC)])
    for statement in ("UPDATE ledger_entry_keys SET position = 9", "DELETE FROM ledger_entry_keys"):
        with session_factory() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))


# --- the migration of a database with data ----------------------------------------------------------


@pytest.fixture
def before_partitions() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("WALLET_TEST_POSTGRES_URL is not set")
    admin, name = _admin_engine(POSTGRES_URL), f"wallet_partition_move_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine, BEFORE_PARTITIONS)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill(session_factory) -> dict[str, int]:
    """Three months of entries at two schools, checkpoints, feedback on an entry, access log, outbox and
    used token ids, all written before the tables are partitioned."""
    with transaction(session_factory) as session:
        schools = [_school(session, "111111111111"), _school(session, "222222222222")]
        for n, school in enumerate(schools):
            for month, at in enumerate((NOV, DEC, JAN)):
                _append(session, school, [_entry(100 * month + i, at + dt.timedelta(minutes=i),
                                                 terminal=f"T-{n}") for i in range(1, 6)])
                make_checkpoint(session, school, KEY)
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.school_id == schools[0])).first()
        session.add(MealFeedback(entry_id=entry.id, version=1, student_id=entry.student_id, school_id=schools[0],
                                 serving_day=entry.serving_day, meal_type="lunch", parent_iin="000000000000",
                                 rating=5, created_at=NOV))
        for at in (NOV, DEC, JAN):
            session.add(ChildAccessLog(at=at, student_id=entry.student_id, actor_role="parent", actor_id="p",
                                       action="meals"))
            session.add(ParentNotification(student_id=entry.student_id, school_id=schools[0], entry_id=entry.id,
                                           kind="meal", created_at=at))
            session.add(UsedTokenId(jti=f"T-0:{at:%m}", terminal_id="T-0", expires_at=at))
    counts = {}
    with session_factory() as session:
        for model in (LedgerEntry, ChildAccessLog, ParentNotification, UsedTokenId, MealFeedback):
            counts[model.__tablename__] = session.scalar(select(func.count()).select_from(model))
    return counts


def test_migration_moves_a_database_with_data_and_back(before_partitions):
    session_factory = make_session_factory(before_partitions)
    before = _fill(session_factory)
    assert before["ledger_entries"] == 30 and _all_ok(session_factory)
    with before_partitions.connect() as conn:
        next_id = conn.execute(text("SELECT last_value FROM ledger_entries_id_seq")).scalar()

    migrate.upgrade(before_partitions)
    assert _all_ok(session_factory)
    assert _fill_counts(session_factory) == before
    with before_partitions.connect() as conn:
        partitions = dict(conn.execute(text(
            "SELECT tableoid::regclass::text, count(*) FROM ledger_entries GROUP BY 1")).all())
        assert conn.execute(text("SELECT count(*) FROM ledger_entry_keys")).scalar() == 30
        assert conn.execute(text("SELECT last_value FROM ledger_entries_id_seq")).scalar() == next_id
        for spec in PARTITIONED_TABLES:  # a partitioned table, with the months of the data
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = :t"),
                                {"t": spec.table}).scalar() == "p"
            assert f"{spec.table}_p202611" in existing_partitions(conn, spec.table)
    assert partitions == {"ledger_entries_p202611": 10, "ledger_entries_p202612": 10, "ledger_entries_p202701": 10}
    with before_partitions.connect() as conn:  # the lookups by event id and device_seq use an index in every month
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT id FROM ledger_entries WHERE event_id = '00000000-0000-0000-0000-000000000001'")).scalars())
    assert "ix_ledger_entries_event_id" in plan or "event_id_idx" in plan, plan
    # The service appends after the move with the same ids and chains.
    with transaction(session_factory) as session:
        school = session.scalar(select(School.id).where(School.bin == "111111111111"))
        _append(session, school, [_entry(900, JAN + dt.timedelta(days=1), terminal="T-0")])
        make_checkpoint(session, school, KEY)
    assert _all_ok(session_factory)

    migrate.downgrade(before_partitions, BEFORE_PARTITIONS)
    assert _all_ok(session_factory)
    with before_partitions.connect() as conn:
        assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'")).scalar() == "r"
        assert conn.execute(text("SELECT to_regclass('ledger_entry_keys')")).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 31


def _fill_counts(session_factory) -> dict[str, int]:
    with session_factory() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                for m in (LedgerEntry, ChildAccessLog, ParentNotification, UsedTokenId, MealFeedback)}

