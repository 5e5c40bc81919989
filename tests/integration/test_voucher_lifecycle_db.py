"""The lifecycle table on real rows: every allowed edge moves the voucher and appends its transition; every
other pair is refused with the stable code and leaves nothing behind; the history cannot be rewritten."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.voucher_factories import voucher_for
from wallet.models import VOUCHER_STATUSES, Voucher, VoucherTransition
from wallet.vouchers.lifecycle import TRANSITIONS, TransitionNotAllowed
from wallet.vouchers.service import transition

NOW = dt.datetime.now(dt.UTC)


def _count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(VoucherTransition))


def test_every_edge_and_every_refusal(session_factory, world) -> None:
    with session_factory() as session:
        pupil, school = world.eligible[0], world.school.id
        voucher = voucher_for(session, pupil, school, "offered", today=world.today)
        for (a, b), reasons in sorted(TRANSITIONS.items()):
            for reason in sorted(reasons):
                voucher = session.get(Voucher, voucher.id)
                voucher.status = a  # put it in the edge's start (the voucher row itself is mutable)
                session.commit()
                before = _count(session)
                row = transition(session, voucher, b, reason, actor_role="system", actor_id="system", now=NOW)
                session.commit()
                assert session.get(Voucher, voucher.id).status == b
                assert (row.from_status, row.to_status, row.reason) == (a, b, reason)
                assert _count(session) == before + 1
        for a, b in itertools.product(VOUCHER_STATUSES, VOUCHER_STATUSES):
            if (a, b) in TRANSITIONS:
                continue
            voucher = session.get(Voucher, voucher.id)
            voucher.status = a
            session.commit()
            before = _count(session)
            with pytest.raises(TransitionNotAllowed) as refused:
                transition(session, voucher, b, "eligibility_lost", actor_role="system", actor_id="system", now=NOW)
            assert refused.value.code == "voucher_transition_not_allowed"
            session.rollback()
            assert session.get(Voucher, voucher.id).status == a and _count(session) == before


@pytest.mark.parametrize("statement", ["UPDATE voucher_transitions SET reason = 'rewritten'",
                                       "DELETE FROM voucher_transitions",
                                       "UPDATE voucher_consents SET decision = 'declined'",
                                       "DELETE FROM voucher_consents"])
def test_history_is_append_only(session_factory, world, statement: str) -> None:
    with session_factory() as session:
        voucher_for(session, world.eligible[0], world.school.id, "active", today=world.today,
                    parent_iin=world.eligible[1].iin)
    with session_factory() as session, pytest.raises(DBAPIError):
        session.execute(text(statement))
        session.commit()
