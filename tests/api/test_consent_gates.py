"""The consent rule on the endpoints added beside the children endpoints: QR tokens and complaints.

A child of the caller whose vouchers hold no accepted consent (only an offer, or consent withdrawn) is a 403
`consent_required` on the QR and complaints endpoints, as on the meal, menu, allergy and feedback ones:
checked before anything is read or written to the access log. Other parents' children stay the usual 404.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.parent_factories import (  # noqa: F401 - fixtures
    PARENT_IIN,
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
)
from tests.voucher_factories import CONSENT_VERSION, offers_fixture  # noqa: F401 - fixture
from wallet.models import ChildAccessLog, Complaint

V = "/api/v1/parent/vouchers"



def _log_count(session_factory, child_id) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ChildAccessLog)
                              .where(ChildAccessLog.student_id == child_id)) or 0


def _gated(checked, parent) -> None:  # type: ignore[no-untyped-def]
    assert_problem(checked.post(parent.url("/qr"), headers=parent.headers(), json={"mealType": "lunch"}), 403,
                   "consent_required")
    assert_problem(checked.get(parent.url("/complaints"), headers=parent.headers()), 403, "consent_required")
    assert_problem(checked.post(parent.url("/complaints"), headers=parent.headers(),
                                json={"entryId": 1, "text": "cold soup"}), 403, "consent_required")


def test_an_offer_only_child_gets_no_qr_token_and_no_complaints(checked, parent, offers, session_factory) -> None:
    before = _log_count(session_factory, parent.child.id)
    _gated(checked, parent)
    assert _log_count(session_factory, parent.child.id) == before  # nothing read, nothing logged


def test_other_parents_children_are_still_404(checked, parent, other_parent, offers) -> None:
    assert_problem(checked.post(other_parent.url("/qr"), headers=parent.headers(), json={"mealType": "lunch"}),
                   404, "child_not_found")
    assert_problem(checked.get(other_parent.url("/complaints"), headers=parent.headers()), 404, "child_not_found")


def test_consent_withdrawn_closes_qr_and_complaints(checked, parent, offers, meals, session_factory) -> None:
    voucher = str(offers[parent.child.id])
    accepted = checked.post(f"{V}/{voucher}/accept", headers=parent.headers(),
                            json={"consentTextVersion": CONSENT_VERSION})
    assert accepted.status_code == 200, accepted.get_json()
    assert checked.post(parent.url("/qr"), headers=parent.headers(), json={"mealType": "lunch"}).status_code == 201
    entry = meals.record(parent.child)["entryId"]
    assert checked.post(parent.url(f"/meals/{entry}/feedback"), headers=parent.headers(),
                        json={"rating": 1, "tags": ["too_cold"]}).status_code == 201
    filed = checked.post(parent.url("/complaints"), headers=parent.headers(), json={"entryId": entry, "text": "cold"})
    assert filed.status_code == 201
    assert checked.get(parent.url("/complaints"), headers=parent.headers()).status_code == 200

    assert checked.post(f"{V}/{voucher}/withdraw", headers=parent.headers()).status_code == 200
    _gated(checked, parent)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
    assert checked.get(parent.url("/access-log"), headers=parent.headers()).status_code == 200
    assert PARENT_IIN  # the parent fixture's IIN signs these requests


def test_a_withdrawal_during_an_event_stream_stops_its_meals(app, session_factory, world, parent, meals) -> None:
    """The stream judges consent at each read that finds meals, not once when it opens."""
    import datetime as dt
    import time

    from api.parent_notifications import _event_stream
    from tests.voucher_factories import voucher_for
    from wallet.parents.notifications import NotificationCursor
    from wallet.principals import Principal
    from wallet.vouchers import service

    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        voucher = voucher_for(session, parent.child, world.school.id, "active", today=world.today,
                              parent_iin=PARENT_IIN)
    meals.record(parent.child)
    polls = {"n": 0}

    def factory():  # type: ignore[no-untyped-def]
        polls["n"] += 1
        if polls["n"] == 2:  # after the first poll: consent withdrawn, then another meal is recorded
            with session_factory() as session:
                service.withdraw(session, PARENT_IIN, voucher.id, now)
            meals.record(parent.child, meal_type="breakfast")
        return session_factory()

    class WokenOften:  # stands in for the hub: the stream reads again every 20 ms
        def wait(self, timeout: float) -> bool:
            time.sleep(min(timeout, 0.02))
            return True

    with app.app_context():
        events = list(_event_stream(factory=factory, principal=Principal(PARENT_IIN, "parent"),
                                    names={parent.child.id: parent.child.first_name},
                                    cursor=NotificationCursor.fresh(now - dt.timedelta(minutes=1)),
                                    lifetime=0.5, keepalive=100.0, subscription=WokenOften()))
    assert polls["n"] >= 3
    assert len([e for e in events if "event: meal" in e]) == 1
