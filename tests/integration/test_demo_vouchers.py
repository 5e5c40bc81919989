"""The demo's vouchers: offers, acceptances with consent, declines, open offers and a suspension; a second
run changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from wallet.demo import generate
from wallet.demo.vouchers import make_demo_vouchers
from wallet.importing import import_file
from wallet.models import ParentNotification, Voucher, VoucherConsent, VoucherTransition

TODAY = dt.date(2027, 3, 1)  # late enough in the year for some assistance to have ended


def test_demo_vouchers_cover_every_status_and_are_stable(session_factory, tmp_path) -> None:
    files = generate(tmp_path, seed=2026, students=300, today=TODAY)
    for kind in files:
        import_file(session_factory, kind, files[kind])
    now = dt.datetime(2027, 3, 1, 6, tzinfo=dt.UTC)
    with session_factory() as session:
        first = make_demo_vouchers(session, today=TODAY, seed=2026, now=now)
    assert {"active", "offered", "declined", "suspended"} <= set(first), first
    with session_factory() as session:
        consents = session.scalar(select(func.count()).select_from(VoucherConsent))
        assert consents == first["active"] + first["suspended"] + first["declined"] + first.get("accepted", 0)
        transitions = session.scalar(select(func.count()).select_from(VoucherTransition))
        notes = session.scalar(select(func.count()).select_from(ParentNotification))
        assert notes == sum(first.values())
        second = make_demo_vouchers(session, today=TODAY, seed=2026, now=now)
        assert second == first
        assert session.scalar(select(func.count()).select_from(VoucherTransition)) == transitions
        assert session.scalar(select(func.count()).select_from(Voucher)) == sum(first.values())
