"""The evidence tables partitioned by month on a real PostgreSQL (migration 0024, wallet.partitions.evidence):
partitions made ahead with grants and the TRUNCATE refusal, findings across a month boundary, one finding per
rule and key, one ruling per finding and one dispute per meal across months (finding_keys,
finding_ruling_keys, meal_dispute_keys), a finding's entries written only with it, UPDATE/DELETE/TRUNCATE
refused on a partition and on the keys tables, and the migration of a database with findings, rulings and
disputes (`verify` and the holds the same before, after and after the way back)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import POSTGRES_URL, _admin_engine
from tests.integration.test_partitions import DEC, JAN, KEY, NOV, _all_ok, _append, _entry, _school
from wallet import migrate
from wallet.db import make_engine, make_session_factory, transaction
from wallet.evidence.findings import Candidate, record
from wallet.evidence.holds import current_mark, entry_states
from wallet.ledger.checkpoints import make_checkpoint
from wallet.models import Finding, FindingEntry, FindingRuling, LedgerEntry, MealDispute, School
from wallet.partitions.ensure import ensure_partitions, existing_partitions, months_ready
from wallet.partitions.spec import ENSURED_TABLES, EVIDENCE_KEYS_TABLES, EVIDENCE_PARTITIONED_TABLES

# The revision just before the evidence tables are partitioned (0024).
BEFORE_EVIDENCE = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0024").down_revision
EVIDENCE = [spec.table for spec in EVIDENCE_PARTITIONED_TABLES]


@pytest.fixture
def pg(engine: Engine) -> Iterator[Engine]:
    """As tests/integration/test_partitions.py: the partitions a test makes are dropped afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's (SQLite keeps plain tables)")
    with engine.connect() as conn:
        before = {name for spec in ENSURED_TABLES for name in existing_partitions(conn, spec.table)}
    yield engine
    with engine.begin() as conn:
        for spec in ENSURED_TABLES:
            for name in existing_partitions(conn, spec.table) - before:
                conn.execute(text(f"DROP TABLE {name}"))


def _meals(session, at: dt.datetime, count: int = 2) -> tuple[int, list[LedgerEntry]]:
    school = _school(session)
    entries = [_entry(i, at + dt.timedelta(minutes=i)) for i in range(1, count + 1)]
    _append(session, school, entries)
    return school, entries


def _candidate(school: int, region: int, entries: list[LedgerEntry], key: str = "T-001:2026-12-31") -> Candidate:
    return Candidate(rule="serving_rate", key=key, region_id=region, school_id=school,
                     serving_day=entries[0].serving_day, figures={"meals": len(entries)},
                     entry_ids=tuple(e.id for e in entries))


def _region(session, school: int) -> int:
    return session.scalar(select(School.region_id).where(School.id == school))


def _ruling(finding_id: int, at: dt.datetime) -> FindingRuling:
    return FindingRuling(finding_id=finding_id, outcome="upheld", reason="seen on camera", actor="auditor:a", at=at)


def _dispute(entry: LedgerEntry, finding_id: int, at: dt.datetime) -> MealDispute:
    return MealDispute(entry_id=entry.id, student_id=entry.student_id, parent_iin="000000000000", comment=None,
                       finding_id=finding_id, at=at)


# --- partitions ahead of time -----------------------------------------------------------------------


def test_evidence_partitions_are_made_ahead_with_grants_and_the_truncate_refusal(pg):
    at = dt.datetime(2027, 5, 15, tzinfo=dt.UTC)
    with pg.begin() as conn:
        report = ensure_partitions(conn, at, months_ahead=2)
        assert {f"{table}_p202707" for table in EVIDENCE} <= set(report.created)
        assert months_ready(conn, at) == 2
        for table in EVIDENCE:
            name = f"{table}_p202707"
            privileges = [conn.execute(text(
                "SELECT has_table_privilege('wallet_app', :r, 'SELECT'), "
                "has_table_privilege('wallet_app', :r, 'INSERT'), "
                "has_table_privilege('wallet_app', :r, 'UPDATE'), has_table_privilege('wallet_app', :r, 'DELETE')"),
                {"r": relation}).one() for relation in (name, table)]
            assert privileges[0] == privileges[1] == (True, True, False, False), name
            assert conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:p AS regclass) "
                                     "AND tgname = :n"), {"p": name, "n": f"{name}_no_truncate"}).scalar() == 1
            # the row triggers (refusal, keys) are PostgreSQL's clones of the table's
            cloned = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:p AS regclass)"),
                                      {"p": name}).scalars())
            assert f"{table}_append_only" in cloned, cloned


# --- findings across months and their keys ------------------------------------------------------------


def test_findings_across_a_month_boundary_land_in_two_partitions_and_hold(pg, session_factory):
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        region = _region(session, school)
        december = record(session, [_candidate(school, region, entries[:1])], source="scan", now=DEC)
        january = record(session, [_candidate(school, region, entries[1:], key="T-001:2027-01-01")], source="scan",
                         now=JAN)
        session.add(_ruling(january[0].id, JAN))
    with pg.connect() as conn:
        where = dict(conn.execute(text("SELECT id, tableoid::regclass::text FROM findings")).all())
        keys = conn.execute(text("SELECT count(*) FROM finding_keys")).scalar()
        ruling_keys = conn.execute(text("SELECT finding_id FROM finding_ruling_keys")).scalars().all()
    assert where == {december[0].id: "findings_p202612", january[0].id: "findings_p202701"}
    assert keys == 2 and ruling_keys == [january[0].id]
    with session_factory() as session:
        states = entry_states(session, [school], "2026-12", current_mark(session))
    assert states == {entries[0].id: "held", entries[1].id: "withheld"}


def test_a_finding_rule_and_key_is_unique_across_months(pg, session_factory):
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        region = _region(session, school)
        record(session, [_candidate(school, region, entries)], source="scan", now=DEC)
    with session_factory() as session:
        again = _candidate(school, region, entries)  # past record()'s own check, as a concurrent scan would be
        session.add(Finding(rule=again.rule, key=again.key, region_id=region, school_id=school,
                            serving_day=again.serving_day, billing_month="2026-12", source="scan",
                            evidence=again.evidence(), created_at=JAN))
        with pytest.raises(IntegrityError, match="finding_keys"):
            session.flush()
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Finding)) == 1


@pytest.mark.parametrize("second", ["ruling", "dispute"])
def test_one_ruling_per_finding_and_one_dispute_per_meal_across_months(pg, session_factory, second):
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        finding = record(session, [_candidate(school, _region(session, school), entries)], source="parent",
                         now=DEC)[0]
        session.add(_ruling(finding.id, DEC) if second == "ruling" else _dispute(entries[0], finding.id, DEC))
    keys = "finding_ruling_keys" if second == "ruling" else "meal_dispute_keys"
    with session_factory() as session:
        session.add(_ruling(finding.id, JAN) if second == "ruling" else _dispute(entries[0], finding.id, JAN))
        with pytest.raises(IntegrityError, match=keys):
            session.flush()
        session.rollback()
    model = FindingRuling if second == "ruling" else MealDispute
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(model)) == 1


def test_a_findings_entries_are_written_with_it_only(pg, session_factory):
    """finding_entries is partitioned by its finding's time (the transaction's): an entry added to a finding
    later would carry another time, and with it could repeat a (finding, entry) pair; it is refused."""
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        finding = record(session, [_candidate(school, _region(session, school), entries[:1])], source="scan",
                         now=DEC)[0]
    for entry_id in (entries[1].id, entries[0].id):
        with session_factory() as session:
            session.add(FindingEntry(finding_id=finding.id, entry_id=entry_id))
            with pytest.raises(IntegrityError, match="written with it"):
                session.flush()
            session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FindingEntry)) == 1


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", EVIDENCE)
@pytest.mark.parametrize("statement", ["UPDATE {p} SET {c} = {c}", "DELETE FROM {p}", "TRUNCATE {p}"])
def test_an_evidence_partition_itself_refuses_changes(pg, session_factory, table, statement):
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        finding = record(session, [_candidate(school, _region(session, school), entries[:1])], source="parent",
                         now=DEC)[0]
        session.add_all([_ruling(finding.id, DEC), _dispute(entries[0], finding.id, DEC)])
    partition = f"{table}_p202612"
    column = "finding_id" if table == "finding_entries" else "id"
    for role in ("owner", "wallet_app"):
        with session_factory() as session:
            if role == "wallet_app":
                session.execute(text("SET LOCAL ROLE wallet_app"))
            with pytest.raises(DBAPIError, match="append-only" if role == "owner" else "permission denied"):
                session.execute(text(statement.format(p=partition, c=column)))
            session.rollback()
    with pg.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {partition}")).scalar() == 1


@pytest.mark.parametrize("keys", EVIDENCE_KEYS_TABLES)
def test_the_evidence_keys_tables_refuse_changes(pg, session_factory, keys):
    with transaction(session_factory) as session:
        school, entries = _meals(session, DEC)
        finding = record(session, [_candidate(school, _region(session, school), entries[:1])], source="parent",
                         now=DEC)[0]
        session.add_all([_ruling(finding.id, DEC), _dispute(entries[0], finding.id, DEC)])
    for statement in (f"UPDATE {keys} SET finding_id = finding_id" if keys != "meal_dispute_keys"
                      else f"UPDATE {keys} SET entry_id = entry_id", f"DELETE FROM {keys}", f"TRUNCATE {keys}"):
        # TRUNCATE of finding_keys is refused sooner: the other tables' finding_id points at it.
        refusal = "append-only|referenced in a foreign key constraint" if keys == "finding_keys" else "append-only"
        with session_factory() as session, pytest.raises(DBAPIError, match=refusal):
            session.execute(text(statement))


# --- the migration of a database with data ----------------------------------------------------------


@pytest.fixture
def before_evidence() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("WALLET_TEST_POSTGRES_URL is not set")
    admin, name = _admin_engine(POSTGRES_URL), f"wallet_evidence_move_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine, BEFORE_EVIDENCE)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _counts(session_factory) -> dict[str, int]:
    with session_factory() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                for m in (Finding, FindingEntry, FindingRuling, MealDispute)}


def _states(session_factory, school: int) -> dict[int, str]:
    with session_factory() as session:
        return entry_states(session, [school], "2026-11", current_mark(session))


def test_evidence_migration_moves_a_database_with_data_and_back(before_evidence):
    session_factory = make_session_factory(before_evidence)
    with transaction(session_factory) as session:  # findings of three months, one ruled, one disputed
        school, entries = _meals(session, NOV, count=6)
        make_checkpoint(session, school, KEY)
        region = _region(session, school)
        found = [record(session, [_candidate(school, region, entries[2 * n:2 * n + 2], key=f"k{n}")],
                        source="scan", now=at)[0] for n, at in enumerate((NOV, DEC, JAN))]
        session.add(_ruling(found[1].id, JAN))
        session.add(_dispute(entries[0], found[0].id, NOV))
    before, states = _counts(session_factory), _states(session_factory, school)
    assert before == {"findings": 3, "finding_entries": 6, "finding_rulings": 1, "meal_disputes": 1}
    assert _all_ok(session_factory)

    migrate.upgrade(before_evidence)
    assert _counts(session_factory) == before and _states(session_factory, school) == states
    assert _all_ok(session_factory)
    with before_evidence.connect() as conn:
        for table in EVIDENCE:
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table}).scalar() == "p"
        months = dict(conn.execute(text("SELECT id, tableoid::regclass::text FROM findings")).all())
        entry_months = set(conn.execute(text(
            "SELECT finding_id, tableoid::regclass::text FROM finding_entries")).all())
        assert conn.execute(text("SELECT count(*) FROM finding_keys")).scalar() == 3
    assert [months[f.id] for f in found] == ["findings_p202611", "findings_p202612", "findings_p202701"]
    assert entry_months == {(f.id, f"finding_entries_p{m}") for f, m in zip(found, ("202611", "202612", "202701"),
                                                                                 strict=True)}
    # The service goes on recording after the move, and the old keys still hold.
    with transaction(session_factory) as session:
        record(session, [_candidate(school, region, entries[:1], key="k3")], source="scan", now=JAN)
        session.add(_ruling(found[2].id, JAN))
    with session_factory() as session:
        session.add(_ruling(found[1].id, JAN))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()

    migrate.downgrade(before_evidence, BEFORE_EVIDENCE)
    assert _counts(session_factory) == {"findings": 4, "finding_entries": 7, "finding_rulings": 2,
                                        "meal_disputes": 1}
    assert _all_ok(session_factory)
    with before_evidence.connect() as conn:
        for table in EVIDENCE:
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table}).scalar() == "r"
        for keys in EVIDENCE_KEYS_TABLES:
            assert conn.execute(text("SELECT to_regclass(:k)"), {"k": keys}).scalar() is None
    with session_factory() as session:  # the plain tables' own keys are back
        session.add(_ruling(found[1].id, JAN))
        with pytest.raises(IntegrityError, match="uq_finding_rulings_finding_id"):
            session.flush()
        session.rollback()
