"""Meal events carrying a scanned QR token: verified, judged and spent once, checked against openapi.yaml."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from tests.factories import TerminalKey, batch, meal_event
from tests.qr_factories import add_voucher, make_token, qr_event, qr_key
from wallet.db import make_session_factory
from wallet.ledger.signing import SigningKey
from wallet.ledger.verify import verify_all
from wallet.models import LedgerEntry, QrTokenUse

EVENTS = "/api/v1/terminal/events"


@pytest.fixture
def voucher(session_factory, world):
    with session_factory() as session:
        return add_voucher(session, world.eligible[0], world.school.id)


@pytest.fixture
def key(settings):
    return qr_key(settings)


def _post(checked, terminal_key, *events, sent_at=None):
    response = checked.post(EVENTS, json=batch(*events, sent_at=sent_at), headers=terminal_key.headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def _entries(session_factory):
    with session_factory() as session:
        return session.scalars(select(LedgerEntry).order_by(LedgerEntry.position)).all()


def test_a_good_token_is_a_billable_meal_of_the_vouchers_child(checked, terminal_key, voucher, key, world,
                                                               session_factory):
    token = make_token(key, voucher, world.school.bin)
    [result] = _post(checked, terminal_key, qr_event(token, 1))
    assert result["status"] == "recorded" and result["verdict"] == "billable", result
    assert "priceTiyn" not in result
    [entry] = _entries(session_factory)
    assert entry.price_tiyn == world.price["lunch"]
    assert entry.student_id == world.eligible[0].id and entry.student_ref == str(world.eligible[0].id)
    assert entry.voucher_id == voucher.id and entry.method == "qr" and entry.qr_token_id is not None
    assert '"voucherId"' in entry.payload and '"qrTokenId"' in entry.payload
    # The same child's second lunch by roster is a duplicate: the QR meal holds the day's slot.
    [second] = _post(checked, terminal_key, meal_event(world.eligible[0], 2))
    assert second["reasons"] == ["duplicate_meal"]


def test_chains_with_and_without_qr_entries_verify(checked, terminal_key, voucher, key, world, session_factory,
                                                    settings):
    token = make_token(key, voucher, world.school.bin)
    _post(checked, terminal_key, meal_event(world.eligible[1], 1), qr_event(token, 2), qr_event(token, 3))
    entries = _entries(session_factory)
    assert '"voucherId"' not in entries[0].payload  # entries without a token keep their old canonical form
    from wallet.keys import load_signing_key, public_keys_of

    reports = verify_all(session_factory, public_keys_of(load_signing_key(settings)))
    assert reports and all(r.ok for r in reports), [r.describe() for r in reports]


def test_a_replayed_batch_is_not_a_reuse(checked, terminal_key, voucher, key, world):
    event = qr_event(make_token(key, voucher, world.school.bin), 1)
    first = _post(checked, terminal_key, event)
    again = _post(checked, terminal_key, event)
    assert again[0]["status"] == "replayed" and again[0]["entryId"] == first[0]["entryId"]


def test_reuse_in_the_same_batch_in_another_batch_and_on_another_terminal(checked, terminal_key, voucher, key, world,
                                                                         session_factory):
    token = make_token(key, voucher, world.school.bin)
    same = _post(checked, terminal_key, qr_event(token, 1), qr_event(token, 2))
    assert [r["verdict"] for r in same] == ["billable", "not_billable"]
    # The child did eat already too: both reasons are recorded.
    assert same[1]["reasons"] == ["duplicate_meal", "qr_token_reused"]
    [later] = _post(checked, terminal_key, qr_event(token, 3))
    assert "qr_token_reused" in later["reasons"]
    other = TerminalKey("T-test-2")
    with session_factory() as session:
        other.register(session, world.school)
    [elsewhere] = _post(checked, other, qr_event(token, 1))
    assert elsewhere["verdict"] == "not_billable" and "qr_token_reused" in elsewhere["reasons"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(QrTokenUse)) == 1


def test_an_expired_token_is_recorded_as_refused(checked, terminal_key, voucher, key, world, settings):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.device_clock_tolerance_s + 400)
    token = make_token(key, voucher, world.school.bin, not_before=old.timestamp(), lifetime_s=60)
    [result] = _post(checked, terminal_key, qr_event(token, 1))
    assert result["status"] == "recorded" and result["reasons"] == ["qr_token_expired"]
    # A token scanned within its minutes is good even when the meal is uploaded much later (offline).
    served = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    late = make_token(key, voucher, world.school.bin, not_before=served.timestamp() - 30)
    [offline] = _post(checked, terminal_key, qr_event(late, 2, served_at=served, meal_type="lunch"))
    assert "qr_token_expired" not in offline["reasons"]


def test_a_token_not_yet_valid_is_refused(checked, terminal_key, voucher, key, world, settings):
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.device_clock_tolerance_s + 120)
    token = make_token(key, voucher, world.school.bin, not_before=start.timestamp())
    [result] = _post(checked, terminal_key, qr_event(token, 1))
    assert result["reasons"] == ["qr_token_expired"]


def test_a_token_of_another_school_is_refused_and_not_spent(checked, terminal_key, key, world, session_factory):
    with session_factory() as session:
        theirs = add_voucher(session, world.elsewhere, world.other_school.id)
    token = make_token(key, theirs, world.other_school.bin)
    [result] = _post(checked, terminal_key, qr_event(token, 1))
    assert result["verdict"] == "not_billable"
    assert "qr_token_other_school" in result["reasons"] and "voucher_not_active" in result["reasons"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(QrTokenUse)) == 0


def test_a_token_of_another_meal_type_is_refused(checked, terminal_key, voucher, key, world):
    token = make_token(key, voucher, world.school.bin, meal_type="breakfast")
    [result] = _post(checked, terminal_key, qr_event(token, 1, meal_type="lunch"))
    assert result["reasons"] == ["qr_token_other_meal_type"]


@pytest.mark.parametrize("status", ["suspended", "withdrawn", "expired", "accepted"])
def test_a_voucher_that_is_not_active_refuses_the_meal(checked, terminal_key, key, world, session_factory, status):
    with session_factory() as session:
        voucher = add_voucher(session, world.eligible[0], world.school.id, status=status)
    [result] = _post(checked, terminal_key, qr_event(make_token(key, voucher, world.school.bin), 1))
    assert result["verdict"] == "not_billable" and result["reasons"] == ["voucher_not_active"]


def test_a_voucher_outside_its_dates_refuses_the_meal(checked, terminal_key, key, world, session_factory):
    with session_factory() as session:
        voucher = add_voucher(session, world.eligible[0], world.school.id, valid_from=world.today + dt.timedelta(1),
                              valid_to=world.today + dt.timedelta(days=100))
    [result] = _post(checked, terminal_key, qr_event(make_token(key, voucher, world.school.bin), 1))
    assert result["reasons"] == ["voucher_not_active"]


def test_an_unknown_voucher_is_refused(checked, terminal_key, key, world):
    [result] = _post(checked, terminal_key, qr_event(make_token(key, uuid.uuid4(), world.school.bin), 1))
    assert result["verdict"] == "not_billable"
    assert set(result["reasons"]) == {"unknown_student", "voucher_not_active"}


def test_a_student_id_beside_the_token_must_be_the_vouchers_child(checked, terminal_key, voucher, key, world):
    token = make_token(key, voucher, world.school.bin)
    [same] = _post(checked, terminal_key, qr_event(token, 1, studentId=str(world.eligible[0].id)))
    assert same["verdict"] == "billable"
    token = make_token(key, voucher, world.school.bin)
    [other] = _post(checked, terminal_key, qr_event(token, 2, studentId=str(world.eligible[1].id)))
    assert "qr_token_other_student" in other["reasons"]


def _flip(token: str, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def _forgeries(key, voucher, school_bin):
    good = make_token(key, voucher, school_bin)
    stranger = make_token(SigningKey.generate(), voucher, school_bin)
    return {
        "bit flip in the payload": _flip(good, 8 * 40),
        "bit flip in the signature": _flip(good, 8 * (len(base64.urlsafe_b64decode(good + "==")) - 3)),
        "wrong key": stranger,
        "truncated": good[:-10],
        "garbage": "bm90IGEgdG9rZW4",
        "not base64url": good[:20] + "+/" + good[22:],
        "too long": "A" * 500,
    }


@pytest.mark.parametrize("kind", ["bit flip in the payload", "bit flip in the signature", "wrong key", "truncated",
                                  "garbage", "not base64url", "too long"])
def test_forged_tokens_are_invalid_and_nothing_is_stored(checked, terminal_key, voucher, key, world, session_factory,
                                                          kind):
    token = _forgeries(key, voucher, world.school.bin)[kind]
    good = meal_event(world.eligible[1], 2)
    results = _post(checked, terminal_key, qr_event(token, 1), good)
    assert results[0]["status"] == "invalid"
    assert results[0]["errors"][0]["field"] == "events/0/qrToken"
    assert results[1]["status"] == "recorded"
    assert len(_entries(session_factory)) == 1


@pytest.mark.parametrize("change", [
    {"method": "roster"}, {"qrToken": None}, {"qrToken": ""}, {"qrToken": 12},
])
def test_malformed_qr_events_are_invalid(checked, terminal_key, voucher, key, world, change):
    event = {**qr_event(make_token(key, voucher, world.school.bin), 1), **change}
    [result] = _post(checked, terminal_key, event)
    assert result["status"] == "invalid"


def test_an_event_without_student_or_token_is_invalid(checked, terminal_key):
    event = meal_event("x", 1)
    del event["studentId"]
    [result] = _post(checked, terminal_key, event)
    assert result["status"] == "invalid" and result["errors"][0]["field"] == "events/0/studentId"


def test_method_qr_without_a_token_still_works(checked, terminal_key, world):
    [result] = _post(checked, terminal_key, meal_event(world.eligible[0], 1, method="qr"))
    assert result["verdict"] == "billable"


postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgres_only
def test_one_token_in_two_batches_at_once_is_billed_once(database_url, app, voucher, key, world, session_factory):
    import threading

    terminals = [TerminalKey(f"T-race-{n}") for n in range(2)]
    with session_factory() as session:
        for terminal in terminals:
            terminal.register(session, world.school)
    token = make_token(key, voucher, world.school.bin)
    barrier = threading.Barrier(len(terminals) * 2, timeout=60)
    answers: list = []

    def send(terminal: TerminalKey, seq: int) -> None:
        client = app.test_client()
        body = batch(qr_event(token, seq))
        headers = terminal.headers()
        barrier.wait()
        answers.append(client.post(EVENTS, json=body, headers=headers).get_json()["results"][0])

    threads = [threading.Thread(target=send, args=(t, seq)) for t in terminals for seq in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 4 and all(a["status"] == "recorded" for a in answers), answers
    assert sorted(a["verdict"] for a in answers) == ["billable", "not_billable", "not_billable", "not_billable"]
    engine_factory = make_session_factory(session_factory.kw["bind"])
    with engine_factory() as session:
        assert session.scalar(select(func.count()).select_from(QrTokenUse)) == 1


def test_a_rotated_key_published_beside_the_signing_key_is_accepted(database_url, engine, tmp_path, world,
                                                                     session_factory, settings):
    import dataclasses

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from api import create_app
    from tests.qr_factories import add_voucher as voucher_for

    previous = SigningKey.generate()
    pem = tmp_path / "previous-qr.pub.pem"
    pem.write_bytes(previous._private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    app = create_app(dataclasses.replace(settings, qr_public_key_paths=(pem,)), engine=engine)
    client = app.test_client()
    terminal = TerminalKey("T-rot-1")
    with session_factory() as session:
        terminal.register(session, world.school)
        voucher = voucher_for(session, world.eligible[0], world.school.id)
    roster = client.get("/api/v1/terminal/roster", headers=terminal.headers()).get_json()
    assert {k["keyId"] for k in roster["qrKeys"]} == {previous.key_id, qr_key(settings).key_id}
    body = batch(qr_event(make_token(previous, voucher, world.school.bin), 1))
    [result] = client.post(EVENTS, json=body, headers=terminal.headers()).get_json()["results"]
    assert result["verdict"] == "billable", result
