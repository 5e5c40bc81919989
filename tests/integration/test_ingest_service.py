"""record_batch on real databases: verdicts that need data, late events, voids, in-batch twins."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.factories import make_world, uuid7
from wallet.errors import Conflict
from wallet.ingest import Batch, MealEvent, record_batch
from wallet.ledger.voids import void_entry
from wallet.models import CalendarDay, ClosedPeriod, LedgerEntry, Terminal
from wallet.principals import Principal

TOLERANCE = dt.timedelta(minutes=15)
NOON = dt.time(6, 0, tzinfo=dt.UTC)  # 11:00 in Asia/Almaty
ALMATY = ZoneInfo("Asia/Almaty")


def _served_at(day: dt.date) -> dt.datetime:
    """11:00 local on `day`; on today before 11:00, a moment ago, so the meal is never in the device's future
    (which would make it `device_clock_out_of_bounds` whenever the suite runs in the morning)."""
    noon, now = dt.datetime.combine(day, NOON), dt.datetime.now(dt.UTC)
    if noon <= now:
        return noon
    start_of_day = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ALMATY).astimezone(dt.UTC)
    return max(start_of_day, now - dt.timedelta(seconds=1))


def _terminal(session, world):
    terminal = Terminal(id="T-svc-1", school_id=world.school.id, public_key="A" * 43, status="active",
                        created_at=dt.datetime.now(dt.UTC))
    session.add(terminal)
    session.commit()
    return terminal


def _event(index, student, seq, day, meal_type="lunch", event_id=None):
    served = _served_at(day)
    return MealEvent(index=index, event_id=event_id or uuid7(served), device_seq=seq,
                     student_ref=str(student.id) if not isinstance(student, str) else student,
                     meal_type=meal_type, served_at=served, method="qr")


def _send(session, terminal, *events, sent_at=None):
    now = sent_at or dt.datetime.now(dt.UTC)
    return record_batch(session, terminal, Batch(terminal.id, now, now, list(events)), clock_tolerance=TOLERANCE)


@pytest.fixture
def setup(session_factory):
    session = session_factory()
    world = make_world(session)
    terminal = _terminal(session, world)
    yield session, world, terminal
    session.close()


def test_late_event_is_billed_in_its_own_open_month(setup):
    session, world, terminal = setup
    earlier = world.today - dt.timedelta(days=10)
    session.add(CalendarDay(school_id=world.school.id, day=earlier, kind="serving"))
    session.commit()
    [outcome] = _send(session, terminal, _event(0, world.eligible[0], 1, earlier))
    entry = outcome.entry
    assert entry.verdict == "billable" and entry.billing_month == f"{earlier:%Y-%m}"
    assert entry.serving_day == earlier


def test_closed_month_refuses_with_period_closed(setup):
    session, world, terminal = setup
    session.add(ClosedPeriod(region_id=world.region.id, month=f"{world.today:%Y-%m}",
                             closed_at=dt.datetime.now(dt.UTC), closed_by="operator:test"))
    session.commit()
    [outcome] = _send(session, terminal, _event(0, world.eligible[0], 1, world.today))
    assert outcome.entry.verdict == "not_billable" and outcome.entry.reason_list == ["period_closed"]
    assert outcome.entry.price_tiyn == 0


def test_no_contract_price_for_the_meal_type_category(setup):
    session, world, terminal = setup
    world.contract.prices = [p for p in world.contract.prices if p.meal_type != "snack"]
    session.commit()
    [outcome] = _send(session, terminal, _event(0, world.eligible[0], 1, world.today, meal_type="snack"))
    assert outcome.entry.reason_list == ["no_contract_price"]


def test_in_batch_twin_is_a_replay_and_other_content_a_conflict(setup):
    session, world, terminal = setup
    event = _event(0, world.eligible[0], 1, world.today)
    twin = MealEvent(**{**event.__dict__, "index": 1})
    other = MealEvent(**{**event.__dict__, "index": 2, "meal_type": "snack"})
    outcomes = _send(session, terminal, event, twin, other)
    assert [o.status for o in outcomes] == ["recorded", "replayed", "conflict"]
    assert outcomes[0].entry is outcomes[1].entry
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_void_frees_the_meal_slot_and_cannot_be_repeated(setup):
    session, world, terminal = setup
    [first] = _send(session, terminal, _event(0, world.eligible[0], 1, world.today))
    operator = Principal(subject="op", role="operator")
    void = void_entry(session, first.entry.id, operator, "scanned the wrong child")
    assert void.kind == "void" and void.refers_to == first.entry.id and void.position == 2
    assert void.price_tiyn == first.entry.price_tiyn
    with pytest.raises(Conflict):
        void_entry(session, first.entry.id, operator, "again")
    [second] = _send(session, terminal, _event(0, world.eligible[0], 2, world.today))
    assert second.entry.verdict == "billable"


def test_events_from_another_terminal_with_the_same_id_conflict(setup, session_factory):
    session, world, terminal = setup
    other = Terminal(id="T-svc-2", school_id=world.school.id, public_key="B" * 43, status="active",
                     created_at=dt.datetime.now(dt.UTC))
    session.add(other)
    session.commit()
    event = _event(0, world.eligible[0], 1, world.today, event_id=uuid.UUID(str(uuid7())))
    _send(session, terminal, event)
    [outcome] = _send(session, other, event)
    assert outcome.status == "conflict" and outcome.code == "event_id_reused"


def test_chain_hashes_link_entries_in_position_order(setup):
    from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash

    session, world, terminal = setup
    _send(session, terminal, *[_event(i, world.eligible[i % 3], i + 1, world.today,
                                      meal_type=("breakfast", "lunch", "snack")[i // 3]) for i in range(9)])
    chain = GENESIS_CHAIN_HASH
    for entry in session.scalars(select(LedgerEntry).order_by(LedgerEntry.position)):
        chain = next_chain_hash(chain, entry.leaf_hash)
        assert entry.chain_hash == chain


