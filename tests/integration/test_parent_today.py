"""meals/today in one round trip (wallet.parents.today.child_today) answers exactly what the child lookup and
today_status answer separately: served, voided, refused and not-yet meals, a holiday, and a school whose zone
keeps another day than the default zone's (the statement's facts are then not used). On PostgreSQL the same
statement sent through the driver (child_today_prepared, wallet.prepared) answers the same too, and logs the
read as the session's statement does."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from tests.parent_factories import PARENT_IIN, meals_fixture, parent_fixture  # noqa: F401 - fixtures
from wallet import prepared
from wallet.db import read_only
from wallet.models import ChildAccessLog, School
from wallet.parents.access_log import AccessNote
from wallet.parents.children import ChildNotFound, find_child
from wallet.parents.today import child_today, child_today_prepared, today_status

NOTE = AccessNote("parent", PARENT_IIN, "meals_today")


def _logged(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ChildAccessLog))  # type: ignore[no-any-return]


def _both(session_factory, child_id, now):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        read_only(session)
        merged = child_today(session, PARENT_IIN, child_id, now, NOTE)
    with session_factory() as session:
        child = find_child(session, PARENT_IIN, child_id, now, consent=True)
        separate = (child, today_status(session, child))
    engine = session_factory.kw["bind"]
    if prepared.supported(engine):
        before = _logged(session_factory)
        assert child_today_prepared(engine, PARENT_IIN, child_id, now, NOTE) == merged
        assert _logged(session_factory) == before + 1  # committed before it returned
    return merged, separate


def test_the_driver_path_refuses_and_logs_nothing_for_another_child(session_factory, world, parent) -> None:
    engine = session_factory.kw["bind"]
    if not prepared.supported(engine):
        pytest.skip("the driver path is PostgreSQL's")
    before = _logged(session_factory)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ChildNotFound):
        child_today_prepared(engine, "000000000000", parent.child.id, now, NOTE)
    with pytest.raises(ChildNotFound):
        child_today_prepared(engine, PARENT_IIN, None, now, NOTE)
    assert _logged(session_factory) == before


def test_the_same_answer_as_the_two_statements(session_factory, world, parent, meals, client) -> None:
    meals.record(parent.child, meal_type="breakfast")
    assert meals.record(parent.child)["verdict"] == "billable"
    assert meals.record(parent.child)["verdict"] == "not_billable"  # a second lunch
    now = dt.datetime.now(dt.UTC)
    merged, separate = _both(session_factory, parent.child.id, now)
    assert merged == separate
    statuses = {m.meal_type: m.status for m in merged[1].meals}
    assert statuses["lunch"] == "served" and statuses["breakfast"] in ("served", "not_eligible")
    holiday = now - dt.timedelta(days=1)  # the day before is a holiday at the world's school
    assert _both(session_factory, parent.child.id, holiday)[0] == _both(session_factory, parent.child.id, holiday)[1]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati"])
def test_a_school_in_another_zone_keeps_its_own_day(session_factory, world, parent, zone) -> None:
    with session_factory() as session:
        session.execute(update(School).where(School.id == world.school.id).values(timezone=zone))
        session.commit()
    for hour in (1, 12, 21):  # around midnight in one zone or the other
        now = dt.datetime.combine(world.today, dt.time(hour), dt.UTC)
        merged, separate = _both(session_factory, parent.child.id, now)
        assert merged == separate
        assert merged[0].today == now.astimezone(ZoneInfo(zone)).date()


def test_a_connection_lost_under_the_driver_path_is_a_database_error(session_factory, world, parent) -> None:
    """The pooled connection's backend killed between requests: the read fails as SQLAlchemy's disconnect
    (the app answers 503 database_unavailable), the dead connection leaves the pool, the next read works."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from wallet.db import make_engine

    if not prepared.supported(session_factory.kw["bind"]):
        pytest.skip("the driver path is PostgreSQL's")
    engine = make_engine(session_factory.kw["bind"].url)
    try:
        raw = engine.raw_connection()
        pid = raw.driver_connection.info.backend_pid  # type: ignore[union-attr]
        raw.close()
        with session_factory.kw["bind"].connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(DBAPIError) as failed:
            child_today_prepared(engine, PARENT_IIN, parent.child.id, now, NOTE)
        assert failed.value.connection_invalidated
        assert child_today_prepared(engine, PARENT_IIN, parent.child.id, now, NOTE)[0].id == parent.child.id
    finally:
        engine.dispose()
