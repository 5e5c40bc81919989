"""Push delivery of the parents' outbox (wallet.parents.push) on both databases, against the stand-in gateway
of tests/push_gateway.py through the real HTTP sender: every deliverable notification reaches the gateway
exactly once by idempotency key whatever the gateway does, nothing the consent rule withholds goes out, and
deliveries that cannot succeed end dead and can be requeued."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from sqlalchemy import delete, func, select

from tests.factories import an_iin
from tests.push_factories import NOW, push_world_fixture  # noqa: F401 - the push_world fixture
from tests.push_gateway import new_secret, running_gateway
from tests.voucher_factories import voucher_for
from wallet.models import GuardianLink, ParentNotification, PushDelivery, Voucher
from wallet.parents import push
from wallet.parents.push_http import WebhookSender

# Small backoffs, a short timeout: the faults cost little (the clock below is the tests' own).
POLICY = push.PushPolicy(max_attempts=40, backoff_base_s=0.01, backoff_cap_s=0.05, batch_size=7)
TIMEOUT_S = 0.2


class Clock:
    """The worker's clock in these tests: moved on to the next due time when nothing is due, so backoffs
    and Retry-After are waited out without waiting."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _drain(session_factory, sender, policy: push.PushPolicy, clock: Clock, *, rounds: int = 2000) -> None:
    enqueuer = push.Enqueuer(policy)
    rng = random.Random(7)
    for _ in range(rounds):
        with session_factory() as session:
            enqueuer(session, clock())
            if push.deliver_due(session, sender, policy, clock=clock, rng=rng).handled:
                continue
            due = push.next_due(session)
        if due is None:
            return
        clock.now = max(clock.now, due)
    raise AssertionError("the deliveries did not settle")


def _key(note: int, link: int, policy: push.PushPolicy = POLICY) -> str:
    return push.idempotency_key(policy, note, link)


def _states(session_factory) -> dict[str, int]:
    with session_factory() as session:
        return dict(session.execute(select(PushDelivery.state, func.count()).group_by(PushDelivery.state)).all())


# Weighted towards success, so the slow ones (a client timeout each) stay few.
FAULTS = ("ok", "ok", "ok", "fail", "throttle", "slow", "drop")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_notification_reaches_the_gateway_once_by_key_whatever_it_does(session_factory, push_world, seed):
    rng = random.Random(seed)
    secret = new_secret()
    with running_gateway(secret, lambda _n, _id: rng.choice(FAULTS), slow_s=TIMEOUT_S * 3) as gateway:
        _drain(session_factory, WebhookSender(gateway.url, secret, timeout_s=TIMEOUT_S), POLICY, Clock(NOW))
    assert set(gateway.accepted) == {_key(n, link) for n, link in push_world.expected}
    assert gateway.duplicates > 0 and gateway.changed_bodies == [] and gateway.bad_signatures == 0
    assert _states(session_factory) == {"delivered": len(push_world.expected), "withheld": len(push_world.withheld)}


def test_the_gateway_receives_what_it_needs_and_nothing_else(session_factory, world, push_world):
    secret = new_secret()
    with running_gateway(secret) as gateway:
        _drain(session_factory, WebhookSender(gateway.url, secret, timeout_s=5), POLICY, Clock(NOW))
    with session_factory() as session:
        notes = {n.id: n for n in session.scalars(select(ParentNotification))}
    for note_id, link in push_world.expected:
        body = gateway.accepted[_key(note_id, link)]
        note = notes[note_id]
        assert set(body) == {"type", "timestamp", "data"}
        assert body["data"]["recipient"] == push_world.iins[link]  # the full IIN: the gateway addresses by it
        assert body["data"]["childId"] == str(note.student_id)
        if note.voucher_id is not None:
            assert set(body["data"]) == {"recipient", "childId", "kind", "voucherId"}
        else:
            assert set(body["data"]) == {"recipient", "childId", "kind", "entryId", "mealType", "date",
                                         "servedAt", "billable"}
        text = json.dumps(body, ensure_ascii=False)
        for student in (*world.eligible, world.elsewhere):  # no child's IIN or names, no school
            assert student.iin not in text and student.first_name not in text and student.last_name not in text
        assert world.school.bin not in text and world.school.name_ru not in text


def test_consent_is_judged_when_the_push_is_due(session_factory, world, push_world):
    """A child whose parents accept the voucher after the meals were written gets them pushed; one whose
    consent is withdrawn before the push is due does not."""
    with session_factory() as session:
        voucher = session.scalars(select(ParentNotification.voucher_id)
                                  .where(ParentNotification.voucher_id.is_not(None))).one()
        session.get(Voucher, voucher).status = "withdrawn"
        session.commit()
        voucher_for(session, world.eligible[0], world.school.id, "offered", today=world.today)
    secret = new_secret()
    with running_gateway(secret) as gateway:
        _drain(session_factory, WebhookSender(gateway.url, secret, timeout_s=5), POLICY, Clock(NOW))
    mother, father = push_world.links["mother"], push_world.links["father"]
    sent_links = {int(key.rsplit("_", 1)[1]) for key in gateway.accepted}
    assert mother not in sent_links and father not in sent_links  # eligible[0]: vouchers, none consented
    assert push_world.links["guardian2"] in sent_links  # the offer itself always goes
    assert push_world.links["guardian1"] in sent_links and push_world.links["elsewhere"] in sent_links


def test_dead_after_n_attempts_then_requeued(session_factory, push_world):
    policy = push.PushPolicy(max_attempts=3, backoff_base_s=0.01, backoff_cap_s=0.05, batch_size=50)
    secret = new_secret()
    failing = True
    with running_gateway(secret, lambda _n, _id: "fail" if failing else "ok") as gateway:
        sender = WebhookSender(gateway.url, secret, timeout_s=5)
        clock = Clock(NOW)
        _drain(session_factory, sender, policy, clock)
        assert set(gateway.arrivals.values()) == {3} and len(gateway.arrivals) == len(push_world.expected)
        assert gateway.accepted == {}
        with session_factory() as session:
            status = push.push_status(session, clock())
            assert (status.dead, status.backlog, status.lag_s) == (len(push_world.expected), 0, 0.0)
            dead = select(PushDelivery.last_status).where(PushDelivery.state == "dead").distinct()
            assert session.scalars(dead).all() == [503]
            failing = False
            assert push.retry_dead(session, clock()) == len(push_world.expected)
            assert push.push_status(session, clock()).backlog == len(push_world.expected)
        _drain(session_factory, sender, policy, clock)
    assert set(gateway.accepted) == {_key(n, link) for n, link in push_world.expected}
    assert _states(session_factory) == {"delivered": len(push_world.expected), "withheld": len(push_world.withheld)}


def test_a_refusal_that_retrying_cannot_mend_is_dead_at_once(session_factory, push_world):
    secret = new_secret()
    with running_gateway(secret, lambda _n, _id: "refuse") as gateway:
        _drain(session_factory, WebhookSender(gateway.url, secret, timeout_s=5), POLICY, Clock(NOW))
    assert set(gateway.arrivals.values()) == {1}
    assert _states(session_factory)["dead"] == len(push_world.expected)


def test_a_wrong_secret_is_refused_by_the_gateway_and_nothing_is_accepted(session_factory, push_world):
    policy = push.PushPolicy(max_attempts=2, backoff_base_s=0.01, backoff_cap_s=0.05, batch_size=50)
    with running_gateway(new_secret()) as gateway:
        _drain(session_factory, WebhookSender(gateway.url, new_secret(), timeout_s=5), policy, Clock(NOW))
    assert gateway.accepted == {} and gateway.bad_signatures == len(push_world.expected)
    assert _states(session_factory)["dead"] == len(push_world.expected)  # 401 is not retried


def test_retry_after_is_honoured(session_factory, push_world):
    """A 429 with Retry-After: 120 is not tried again before 120 seconds, whatever the jitter draws."""
    clock = Clock(NOW)
    with session_factory() as session:
        push.Enqueuer(POLICY)(session, clock())
        report = push.deliver_due(session, lambda _id, _body: push.SendResult(429, 120.0), POLICY, clock=clock)
        assert report.retrying > 0
        due = session.scalars(select(PushDelivery.next_attempt_at).where(PushDelivery.attempts == 1)).all()
    assert len(due) == report.retrying and min(due) >= NOW + dt.timedelta(seconds=120)


def test_a_row_pruned_or_unlinked_before_its_push_is_not_sent(session_factory, push_world):
    clock = Clock(NOW)
    with session_factory() as session:
        push.Enqueuer(POLICY)(session, clock())
        pruned = sorted(n for n, _ in push_world.expected)[0]
        session.execute(delete(ParentNotification).where(ParentNotification.id == pruned))
        session.execute(delete(GuardianLink).where(GuardianLink.id == push_world.links["elsewhere"]))
        session.commit()
    secret = new_secret()
    with running_gateway(secret) as gateway:
        _drain(session_factory, WebhookSender(gateway.url, secret, timeout_s=5), POLICY, clock)
    gone = {(n, link) for n, link in push_world.expected if n == pruned or link == push_world.links["elsewhere"]}
    assert set(gateway.accepted) == {_key(n, link) for n, link in push_world.expected - gone}
    with session_factory() as session:
        expired = session.scalars(select(PushDelivery.notification_id).where(PushDelivery.state == "expired")).all()
    assert set(expired) == {pruned}


def test_old_outbox_rows_are_not_pushed_and_a_new_guardian_gets_no_old_pushes(session_factory, world, push_world):
    clock = Clock(NOW + POLICY.max_age)  # every outbox row of the world is older than max_age by now
    with session_factory() as session:
        assert push.Enqueuer(POLICY)(session, clock()) == 0
        enqueuer = push.Enqueuer(POLICY)
        clock.now = NOW
        first = enqueuer(session, clock())
        assert first == len(push_world.expected) + len(push_world.withheld)
        session.add(GuardianLink(parent_iin=an_iin(dt.date(1990, 5, 5)), student_id=world.eligible[1].id,
                                 relation="guardian"))
        session.commit()
        assert enqueuer(session, clock()) == 0 and push.Enqueuer(POLICY)(session, clock()) == 0


def test_two_workers_on_postgresql_claim_different_rows(session_factory, push_world):
    with session_factory() as first, session_factory() as second:
        if first.get_bind().dialect.name != "postgresql":
            pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite runs one worker")
        push.Enqueuer(POLICY)(first, NOW)
        mine = push._claim(first, NOW, 10, locking=True)
        theirs = push._claim(second, NOW, 10, locking=True)
        assert len(mine) == len(theirs) == 10
        assert not {c.id for c in mine} & {c.id for c in theirs}
        first.rollback()  # the first worker dies: its rows are free again
        again = push._claim(second, NOW, 100, locking=True)
        assert {c.id for c in mine} <= {c.id for c in again}
        second.rollback()
