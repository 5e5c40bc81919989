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
