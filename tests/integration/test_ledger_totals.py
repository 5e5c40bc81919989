"""The derived ledger totals on both databases: kept by append_entries equal to a fresh aggregation of the
entries, after random appends (refusals, voids, late uploads, contracts and terminals or none, serving days
at month edges in zones with and without daylight saving, and Kazakhstan's change of offset in March 2024);
rebuilt to the same rows; differences found and reported by `wallet totals check`."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from cli.main import cli
from wallet.db import transaction
from wallet.ledger.append import append_entries, lock_chain_head
from wallet.ledger.totals import CHILD_KEYS, CHILD_VALUES, DAY_KEYS, DAY_VALUES, check, is_late, rebuild
from wallet.models import LedgerChildMonthTotal, LedgerDayTotal, LedgerEntry, Region, School

ZONES = ("Asia/Almaty", "Asia/Aqtobe", "Europe/Berlin")
# Month edges, a daylight-saving change (Berlin, 29 March 2026) and Almaty's move from UTC+6 to UTC+5.
DAYS = [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 29), dt.date(2026, 3, 31),
        dt.date(2026, 4, 1), dt.date(2024, 2, 29), dt.date(2024, 3, 1)]


def _schools(session) -> list[tuple[int, str]]:
    region = Region(code="KZ-T", name_kk="T", name_ru="T")
    session.add(region)
    session.flush()
    schools = [School(bin=f"1000000000{n:02d}", name_kk="S", name_ru="S", region_id=region.id, timezone=zone)
               for n, zone in enumerate(ZONES)]
    session.add_all(schools)
    session.flush()
    return [(s.id, s.timezone) for s in schools]


def _random_entry(rng: random.Random, zone: str, seqs: dict[str, int], pupils: list[uuid.UUID]) -> LedgerEntry:
    day = rng.choice(DAYS)
    served = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), ZoneInfo(zone)).astimezone(dt.UTC)
    # received before the day ended, exactly at its end, or days later
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)
    received = rng.choice([served + dt.timedelta(minutes=5), day_end, day_end - dt.timedelta(microseconds=1),
                           day_end + dt.timedelta(days=rng.randrange(1, 40))])
    kind = rng.choice(["meal"] * 5 + ["void"])
    billable = rng.random() < 0.7
    terminal = None if kind == "void" else rng.choice(["T-1", "T-2"])
    seq = None
    if terminal is not None:
        seqs[terminal] += rng.choice([1, 1, 1, 2])
        seq = seqs[terminal]
    return LedgerEntry(
        kind=kind, event_id=uuid.uuid4() if terminal else None, terminal_id=terminal, device_seq=seq,
        student_ref="ref", student_id=rng.choice([None, *pupils]), meal_type=rng.choice(["breakfast", "lunch"]),
        method="qr" if terminal else None, served_at=served, serving_day=day, billing_month=f"{day:%Y-%m}",
        received_at=received, verdict="billable" if billable else "not_billable",
        reasons="" if billable else rng.choice(["duplicate_meal", "not_eligible,not_enrolled", "period_closed"]),
        category_code=rng.choice([None, "primary_grades", "orphan"]) if billable else None,
        contract_id=rng.choice([None, 1, 2]) if billable else None,
        price_tiyn=rng.choice([45000, 90000, 99000]) if billable else 0,
        refers_to=rng.randrange(1, 10**9) if kind == "void" else None,
    )


def _append_random(session_factory, seed: int, batches: int = 12) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    with transaction(session_factory) as session:
        schools = _schools(session)
    pupils = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(4)]
    seqs = {"T-1": 0, "T-2": 0}
    for n in range(batches):
        school_id, zone = schools[n % len(schools)]
        # terminals are per school: prefix their ids so (terminal, seq) stays unique across schools
        entries = [_random_entry(rng, zone, seqs, pupils) for _ in range(rng.randrange(1, 30))]
        for e in entries:
            if e.terminal_id:
                e.terminal_id = f"{school_id}-{e.terminal_id}"
        with transaction(session_factory) as session:
            append_entries(session, lock_chain_head(session, school_id), entries)
    return schools


def _rows(session) -> tuple[list[tuple], list[tuple]]:
    day = [tuple(r) for r in session.execute(
        select(*(LedgerDayTotal.__table__.c[n] for n in DAY_KEYS + DAY_VALUES)).order_by(
            *(LedgerDayTotal.__table__.c[n] for n in DAY_KEYS)))]
    child = [tuple(r) for r in session.execute(
        select(*(LedgerChildMonthTotal.__table__.c[n] for n in CHILD_KEYS + CHILD_VALUES)).order_by(
            *(LedgerChildMonthTotal.__table__.c[n] for n in CHILD_KEYS)))]
    return day, child


def _python_totals(session) -> tuple[dict, dict]:
    """The totals computed here, entry by entry, without SQL."""
    zones = dict(session.execute(select(School.id, School.timezone)).all())
    day: dict[tuple, list] = {}
    child: dict[tuple, list] = {}
    for e in session.scalars(select(LedgerEntry)):
        late = e.received_at.astimezone(ZoneInfo(zones[e.school_id])).date() > e.serving_day
        key = (e.school_id, e.serving_day, e.meal_type, e.category_code or "", e.contract_id or 0,
               e.terminal_id or "", e.kind, e.verdict, e.reasons, int(late))
        row = day.setdefault(key, [0, 0, [], 0])
        row[0] += 1
        row[1] += e.price_tiyn
        if e.device_seq is not None:
            row[2].append(e.device_seq)
            row[3] += 1
        if e.student_id is not None:
            c = child.setdefault((e.school_id, f"{e.serving_day:%Y-%m}", e.student_id, e.meal_type),
                                 [0, 0, 0, 0, 0, 0])
            bit = 1 << (e.serving_day.day - 1)
            if e.verdict == "billable":
                sign = 1 if e.kind == "meal" else -1
                c[0] += sign
                c[1] += sign * bit
            elif e.kind == "meal":
                for reason, at in (("duplicate_meal", 2), ("not_enrolled", 4)):
                    if reason in e.reasons.split(","):
                        c[at] += 1
                        c[at + 1] |= bit
    return ({k: (n, a, min(s, default=None), max(s, default=None), sn) for k, (n, a, s, sn) in day.items()},
            {k: tuple(v) for k, v in child.items()})


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_appends_keep_the_totals_equal_to_the_entries(session_factory, seed):
    _append_random(session_factory, seed)
    with session_factory() as session:
        assert check(session) == []
        day, child = _rows(session)
        want_day, want_child = _python_totals(session)
    assert {r[:10]: r[10:] for r in day} == want_day
    assert {r[:4]: r[4:] for r in child} == want_child
    # the data exercise what they should
    assert {r[9] for r in day} == {0, 1} and {r[3] for r in day} >= {"", "orphan"}
    assert {r[5] for r in day} > {""} and {r[6] for r in day} == {"meal", "void"}
    assert {r[1] for r in child} >= {"2024-02", "2024-03", "2026-02", "2026-03", "2026-04"}
    assert {r[4] for r in child} > {0, 1} and any(r[4] < 0 for r in child)  # two a day; voids
    assert any(r[6] for r in child) and any(r[8] for r in child)  # refused duplicates and not enrolled


def test_rebuild_gives_the_rows_appends_made(session_factory):
    schools = _append_random(session_factory, 7)
    with session_factory() as session:
        maintained = _rows(session)
    with transaction(session_factory) as session:
        session.execute(delete(LedgerDayTotal))
        session.execute(delete(LedgerChildMonthTotal))
        assert check(session) != []
    with transaction(session_factory) as session:
        days, children = rebuild(session)
    assert (days, children) == tuple(len(rows) for rows in maintained)
    with session_factory() as session:
        assert _rows(session) == maintained
    # one school only: the others are left alone
    with transaction(session_factory) as session:
        session.execute(update(LedgerDayTotal).where(LedgerDayTotal.school_id == schools[0][0])
                        .values(n=LedgerDayTotal.n + 1))
        rebuild(session, [schools[1][0]])
        assert {d.values["school_id"] for d in check(session)} == {schools[0][0]}
        rebuild(session, [schools[0][0]])
        assert check(session) == []


def test_late_is_judged_at_the_end_of_the_serving_day_in_the_school_zone():
    day = dt.date(2024, 2, 20)  # Almaty was UTC+6 until 1 March 2024
    assert not is_late(dt.datetime(2024, 2, 20, 17, 59, 59, tzinfo=dt.UTC), day, "Asia/Almaty")
    assert is_late(dt.datetime(2024, 2, 20, 18, tzinfo=dt.UTC), day, "Asia/Almaty")
    day = dt.date(2024, 3, 5)  # and UTC+5 since
    assert not is_late(dt.datetime(2024, 3, 5, 18, 59, tzinfo=dt.UTC), day, "Asia/Almaty")
    assert is_late(dt.datetime(2024, 3, 5, 19, tzinfo=dt.UTC), day, "Asia/Almaty")


@pytest.fixture
def run(database_url: str, tmp_path):
    runner = CliRunner()
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path)}

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_wallet_totals_check_and_rebuild(session_factory, run):
    schools = _append_random(session_factory, 11, batches=6)
    ok = run("totals", "check", "--month", "2026-03")
    assert ok.exit_code == 0, ok.output
    assert "totals agree with the entries" in ok.output
    with transaction(session_factory) as session:
        bin_ = session.scalar(select(School.bin).where(School.id == schools[0][0]))
        session.execute(update(LedgerDayTotal).where(LedgerDayTotal.school_id == schools[0][0])
                        .values(amount=LedgerDayTotal.amount + 1))
        session.execute(text("DELETE FROM ledger_child_month_totals WHERE school_id = :s"), {"s": schools[0][0]})
    bad = run("totals", "check", "--school", bin_)
    assert bad.exit_code == 1
    assert "ledger_day_totals: expected" in bad.output and "ledger_day_totals: found" in bad.output
    assert "ledger_child_month_totals: expected" in bad.output
    assert "run `wallet totals rebuild`" in bad.output
    unknown = run("totals", "check", "--school", "999999999999")
    assert unknown.exit_code == 2
    rebuilt = run("totals", "rebuild", "--school", bin_)
    assert rebuilt.exit_code == 0 and "totals rebuilt" in rebuilt.output
    assert run("totals", "check").exit_code == 0


def test_the_migration_fills_the_totals_from_existing_entries(engine, session_factory):
    from wallet import migrate

    _append_random(session_factory, 13)
    with session_factory() as session:
        maintained = _rows(session)
    migrate.downgrade(engine, "0010")
    migrate.upgrade(engine)  # 0011 fills the tables, 0012 reshapes and fills the child-month totals
    with session_factory() as session:
        assert _rows(session) == maintained
        assert maintained[0] and maintained[1]
    migrate.downgrade(engine, "0011")  # 0011's shape, filled again
    with session_factory() as session:
        assert session.scalar(text("SELECT sum(n) FROM ledger_child_month_totals")) == session.scalar(
            text("SELECT count(*) FROM ledger_entries WHERE student_id IS NOT NULL"))
    migrate.upgrade(engine)
    with session_factory() as session:
        assert _rows(session) == maintained
