"""Offers from eligibility, guardians' answers, sync and expiry, on real databases."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update

from tests.parent_factories import OTHER_PARENT_IIN, PARENT_IIN, link
from tests.voucher_factories import CONSENT_VERSION, voucher_for
from wallet.errors import Conflict, NotFound
from wallet.models import (
    ConsentText,
    Enrollment,
    ParentNotification,
    StudentEligibility,
    Voucher,
    VoucherConsent,
    VoucherTransition,
)
from wallet.vouchers.offers import expire_vouchers, offer_vouchers, sync_vouchers
from wallet.vouchers.service import accept, decline, withdraw
from wallet.vouchers.years import school_year_of

NOW = dt.datetime.now(dt.UTC)


def _year(world) -> str:  # type: ignore[no-untyped-def]
    return school_year_of(world.today)


def _offer(session_factory, world, now=NOW):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        report = offer_vouchers(session, _year(world), world.today, now)
        session.commit()
    return report


def _voucher_of(session, student) -> Voucher:  # type: ignore[no-untyped-def]
    return session.scalars(select(Voucher).where(Voucher.student_id == student.id)).one()


def test_offers_go_to_every_entitled_pupil_once_with_a_notification(session_factory, world) -> None:
    report = _offer(session_factory, world)
    # five eligible pupils at the school and one at the other school; the not-eligible pupil gets nothing
    assert report.offered == 6
    assert _offer(session_factory, world).offered == 0  # idempotent
    with session_factory() as session:
        vouchers = list(session.scalars(select(Voucher)))
        assert {v.status for v in vouchers} == {"offered"}
        assert world.not_eligible.id not in {v.student_id for v in vouchers}
        elsewhere = _voucher_of(session, world.elsewhere)
        assert elsewhere.school_id == world.other_school.id
        notes = list(session.scalars(select(ParentNotification)))
        assert len(notes) == 6 and {n.kind for n in notes} == {"voucher_offered"}
        assert {n.voucher_id for n in notes} == {v.id for v in vouchers}
        assert all(n.entry_id is None and n.meal_type is None for n in notes)
        first = session.scalars(select(VoucherTransition)).first()
        assert first.from_status is None and first.to_status == "offered" and first.actor_role == "system"


def test_accept_records_consent_and_activates(session_factory, world) -> None:
    _offer(session_factory, world)
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        voucher_id = _voucher_of(session, world.eligible[0]).id
        voucher = accept(session, PARENT_IIN, voucher_id, CONSENT_VERSION, NOW, today=world.today)
        assert voucher.status == "active"
        consent = session.scalars(select(VoucherConsent)).one()
        assert (consent.parent_iin, consent.decision, consent.text_version) == (PARENT_IIN, "accepted", "2026-1")
        steps = [(t.from_status, t.to_status, t.reason, t.actor_role) for t in session.scalars(
            select(VoucherTransition).where(VoucherTransition.voucher_id == voucher_id)
            .order_by(VoucherTransition.id))]
        assert steps == [(None, "offered", "entitled", "system"),
                         ("offered", "accepted", "guardian_accepted", "parent"),
                         ("accepted", "active", "validity_began", "system")]
        with pytest.raises(Conflict) as again:
            accept(session, PARENT_IIN, voucher_id, CONSENT_VERSION, NOW, today=world.today)
        assert again.value.code == "voucher_already_accepted"
        session.rollback()
        with pytest.raises(Conflict) as late_decline:
            decline(session, PARENT_IIN, voucher_id, NOW)
        assert late_decline.value.code == "voucher_already_accepted"
        session.rollback()
        withdrawn = withdraw(session, PARENT_IIN, voucher_id, NOW)
        assert withdrawn.status == "withdrawn"
        session.rollback()
        with pytest.raises(Conflict) as twice:
            withdraw(session, PARENT_IIN, voucher_id, NOW)
        assert twice.value.code == "voucher_withdrawn"


def test_bad_answers(session_factory, world) -> None:
    _offer(session_factory, world)
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        mine = _voucher_of(session, world.eligible[0]).id
        theirs = _voucher_of(session, world.eligible[1]).id
        with pytest.raises(NotFound) as other:
            accept(session, PARENT_IIN, theirs, CONSENT_VERSION, NOW, today=world.today)
        assert other.value.code == "voucher_not_found"
        session.rollback()
        with pytest.raises(Conflict) as outdated:
            accept(session, PARENT_IIN, mine, "2025-9", NOW, today=world.today)
        assert outdated.value.code == "consent_text_outdated"
        session.rollback()
        with pytest.raises(Conflict) as not_accepted:
            withdraw(session, PARENT_IIN, mine, NOW)
        assert not_accepted.value.code == "voucher_not_accepted"
        session.rollback()
        with pytest.raises(Conflict) as lapsed:
            accept(session, PARENT_IIN, mine, CONSENT_VERSION, NOW + dt.timedelta(days=31), today=world.today)
        assert lapsed.value.code == "offer_expired"
        session.rollback()
        assert decline(session, PARENT_IIN, mine, NOW).status == "declined"
        with pytest.raises(Conflict) as after_decline:
            accept(session, PARENT_IIN, mine, CONSENT_VERSION, NOW, today=world.today)
        assert after_decline.value.code == "voucher_declined"


def test_a_newer_consent_text_outdates_the_old_one(session_factory, world) -> None:
    _offer(session_factory, world)
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        session.add(ConsentText(version="2026-2", text_kk="kk", text_ru="ru", text_en="en",
                                published_at=NOW - dt.timedelta(minutes=1)))
        session.commit()
        mine = _voucher_of(session, world.eligible[0]).id
        with pytest.raises(Conflict) as outdated:
            accept(session, PARENT_IIN, mine, CONSENT_VERSION, NOW, today=world.today)
        assert outdated.value.code == "consent_text_outdated"
        session.rollback()
        assert accept(session, PARENT_IIN, mine, "2026-2", NOW, today=world.today).status == "active"


def test_two_guardians_accepting_at_once_make_one_acceptance(session_factory, world) -> None:
    _offer(session_factory, world)
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        link(session, OTHER_PARENT_IIN, world.eligible[0], "father")
        voucher_id = _voucher_of(session, world.eligible[0]).id
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def answer(iin: str) -> None:
        with session_factory() as session:
            barrier.wait()
            try:
                accept(session, iin, voucher_id, CONSENT_VERSION, NOW, today=world.today)
                outcomes.append("accepted")
            except Conflict as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=answer, args=(iin,)) for iin in (PARENT_IIN, OTHER_PARENT_IIN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted", "voucher_already_accepted"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(VoucherConsent)) == 1
        assert session.scalar(select(func.count()).select_from(VoucherTransition).where(
            VoucherTransition.to_status == "accepted")) == 1


def test_sync_suspends_and_restores_and_lapses_offers(session_factory, world) -> None:
    today = world.today
    a, b, c = world.eligible[0], world.eligible[1], world.eligible[2]
    with session_factory() as session:
        voucher_for(session, a, world.school.id, "active", today=today)
        voucher_for(session, b, world.school.id, "active", today=today)
        voucher_for(session, c, world.school.id, "offered", today=today, offer_days=-1)
        # a loses eligibility, b leaves the school
        session.execute(update(StudentEligibility).where(StudentEligibility.student_id == a.id)
                        .values(valid_to=today - dt.timedelta(days=1)))
        session.execute(update(Enrollment).where(Enrollment.student_id == b.id)
                        .values(valid_to=today - dt.timedelta(days=1)))
        session.commit()
        report = sync_vouchers(session, _year(world), today, NOW)
        session.commit()
        assert report.changed == {"active->suspended": 2, "offered->expired": 1}
        reasons = {t.voucher_id: t.reason for t in session.scalars(
            select(VoucherTransition).where(VoucherTransition.to_status.in_(["suspended", "expired"])))}
        by_student = {v.student_id: v.id for v in session.scalars(select(Voucher))}
        assert reasons[by_student[a.id]] == "eligibility_lost"
        assert reasons[by_student[b.id]] == "enrollment_ended"
        assert reasons[by_student[c.id]] == "offer_lapsed"
        # eligibility returns for a
        session.add(StudentEligibility(student_id=a.id, category_code="primary_grades", valid_from=today,
                                       valid_to=today + dt.timedelta(days=30)))
        session.commit()
        assert sync_vouchers(session, _year(world), today, NOW).changed == {"suspended->active": 1}
        session.commit()
        assert sync_vouchers(session, _year(world), today, NOW).changed == {}


def test_expire_after_the_school_year_only(session_factory, world) -> None:
    today = world.today
    with session_factory() as session:
        v = voucher_for(session, world.eligible[0], world.school.id, "active", today=today)
        voucher_for(session, world.eligible[1], world.school.id, "declined", today=today)
        assert expire_vouchers(session, _year(world), today, NOW).changed == {}
        report = expire_vouchers(session, _year(world), v.valid_to + dt.timedelta(days=1), NOW)
        session.commit()
        assert report.changed == {"active->expired": 1}
        assert session.get(Voucher, v.id).status == "expired"
