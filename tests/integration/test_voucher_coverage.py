"""active_voucher and active_vouchers: what the QR and ingest side ask of vouchers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event

from tests.voucher_factories import voucher_for
from wallet.vouchers import active_voucher, active_vouchers


def test_only_an_active_voucher_within_its_validity_covers(session_factory, world) -> None:
    today = world.today
    a, b, c = world.eligible[0], world.eligible[1], world.eligible[2]
    with session_factory() as session:
        active = voucher_for(session, a, world.school.id, "active", today=today)
        voucher_for(session, b, world.school.id, "suspended", today=today)
        voucher_for(session, c, world.school.id, "accepted", today=today)
        assert active_voucher(session, a.id, world.school.id, today).id == active.id
        assert active_voucher(session, a.id, world.other_school.id, today) is None
        assert active_voucher(session, a.id, world.school.id, active.valid_to + dt.timedelta(days=1)) is None
        assert active_voucher(session, a.id, world.school.id, active.valid_from - dt.timedelta(days=1)) is None
        assert active_voucher(session, b.id, world.school.id, today) is None
        assert active_voucher(session, c.id, world.school.id, today) is None
        assert active_voucher(session, world.not_eligible.id, world.school.id, today) is None


def test_batch_form_answers_in_one_query(session_factory, engine, world) -> None:
    today = world.today
    pupils = world.eligible
    with session_factory() as session:
        first = voucher_for(session, pupils[0], world.school.id, "active", today=today)
        second = voucher_for(session, pupils[1], world.school.id, "active", today=today)
        voucher_for(session, pupils[2], world.school.id, "suspended", today=today)
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        days = [today, today - dt.timedelta(days=1), first.valid_to + dt.timedelta(days=1)]
        covered = active_vouchers(session, [p.id for p in pupils] + [world.not_eligible.id], world.school.id, days)
        assert len([s for s in statements if "vouchers" in s]) == 1
        assert covered == {
            (pupils[0].id, today): first.id, (pupils[0].id, days[1]): first.id,
            (pupils[1].id, today): second.id, (pupils[1].id, days[1]): second.id,
        }
        assert active_vouchers(session, [], world.school.id, days) == {}
        assert active_vouchers(session, [pupils[0].id], world.school.id, []) == {}


def test_the_ingest_rule_on_a_voucher_read_by_id_is_the_same_rule(session_factory, world) -> None:
    """`covers` (ingest: the QR token's voucher by id) agrees with `active_voucher` (QR issue) on every case."""
    from wallet.vouchers import covers, vouchers_by_id

    today = world.today
    statuses = ["active", "suspended", "accepted", "offered", "withdrawn"]
    with session_factory() as session:
        made = [voucher_for(session, pupil, world.school.id, status, today=today)
                for pupil, status in zip(world.eligible, statuses, strict=False)]
        read = vouchers_by_id(session, [v.id for v in made])
        assert set(read) == {v.id for v in made}
        for voucher in made:
            for school in (world.school, world.other_school):
                for day in (today, voucher.valid_from - dt.timedelta(days=1), voucher.valid_to,
                            voucher.valid_to + dt.timedelta(days=1)):
                    found = active_voucher(session, voucher.student_id, school.id, day)
                    assert covers(read[voucher.id], school.id, day) == (found is not None and found.id == voucher.id)
        assert not covers(None, world.school.id, today)


def test_test_vouchers_take_the_school_year_of_their_day(session_factory, world) -> None:
    """The QR tests' voucher factory derives the school year from the day, never a fixed year."""
    from tests.qr_factories import add_voucher

    with session_factory() as session:
        later = add_voucher(session, world.eligible[0], world.school.id,
                            now=dt.datetime(2031, 9, 10, 8, tzinfo=dt.UTC))
        assert later.school_year == "2031-2032"
        summer = add_voucher(session, world.eligible[1], world.school.id,
                             now=dt.datetime(2030, 6, 20, 8, tzinfo=dt.UTC))
        assert summer.school_year == "2030-2031"
