"""A month of QR-based meals for the demo world, recorded through the real ingest.

For each school, a demo terminal `T-demo-qr-<BIN>` presents, on every serving day of the 30 days before
`today`, a dynamic QR token (signed with the service's QR key, a few minutes before the meal) for most
children holding an active voucher, with a few realistic refusals: a screenshot shown twice, a token
fetched too early, a breakfast token shown at lunch. The events go through `record_batch`, so the
entries, verdicts and reason codes are exactly what a terminal would have produced.

Vouchers come from the voucher lifecycle's demo data (wallet/demo/vouchers.py), made just before.
Running it again records nothing (a school whose demo terminal has entries is skipped).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from wallet.ingest import Batch, MealEvent, record_batch
from wallet.ledger.signing import SigningKey
from wallet.models import CalendarDay, LedgerEntry, School, Terminal, Voucher
from wallet.qr.token import QrClaims, encode_token

DAYS = 30
DEMO_QR_TERMINAL = "T-demo-qr-"  # + the school's BIN
BATCH = 500
LUNCH_AT = dt.time(12, 30)
UPLOADED_AT = dt.time(14, 0)  # the afternoon upload of the day's meals (the last is served before 13:31)
# Shares of the day's children: who eat, whose token is refused and how.
EAT_SHARE = 0.92
REUSED_SHARE = 0.01
EXPIRED_SHARE = 0.01
WRONG_MEAL_SHARE = 0.005


def record_demo_qr_meals(session_factory: sessionmaker[Session], key: SigningKey, today: dt.date,
                         *, clock_tolerance: dt.timedelta, seed: int = 2026) -> int:
    """Record the month of QR meals; returns the number of events recorded (0 when already there)."""
    recorded = 0
    with session_factory() as session:
        schools = list(session.scalars(select(School).order_by(School.bin)))
    for school in schools:
        with session_factory() as session:
            rng = random.Random(f"{seed}-{school.bin}")
            recorded += _school_month(session, school, key, today, clock_tolerance, rng)
    return recorded


def _school_month(session: Session, school: School, key: SigningKey, today: dt.date,
                  clock_tolerance: dt.timedelta, rng: random.Random) -> int:
    terminal_id = f"{DEMO_QR_TERMINAL}{school.bin}"
    terminal = session.get(Terminal, terminal_id)
    if terminal is not None and session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.terminal_id == terminal_id)):
        return 0
    days = list(session.scalars(
        select(CalendarDay.day).where(CalendarDay.school_id == school.id, CalendarDay.kind == "serving",
                                      CalendarDay.day >= today - dt.timedelta(days=DAYS), CalendarDay.day < today)
        .order_by(CalendarDay.day)))
    vouchers = list(session.scalars(
        select(Voucher).where(Voucher.school_id == school.id, Voucher.status == "active").order_by(Voucher.id)))
    if not days or not vouchers:
        return 0
    if terminal is None:
        terminal = Terminal(id=terminal_id, school_id=school.id, public_key=_unheld_public_key(),
                            status="active", label="demo QR meals", created_at=dt.datetime.now(dt.UTC))
        session.add(terminal)
        session.commit()
    zone = ZoneInfo(school.timezone)
    recorded = 0
    for day in days:
        events = _day_events(school, key, day, zone, vouchers, rng)
        # Uploaded as the terminal would have that afternoon, not all today: a meal received after its
        # serving day is "late" in the reconciliation, and these were not.
        uploaded = dt.datetime.combine(day, UPLOADED_AT, zone).astimezone(dt.UTC)
        for start in range(0, len(events), BATCH):
            chunk = [_reindexed(e, i, recorded + start) for i, e in enumerate(events[start:start + BATCH])]
            record_batch(session, terminal, Batch(terminal_id, uploaded, uploaded, chunk),
                         clock_tolerance=clock_tolerance)
        recorded += len(events)
    return recorded


def _day_events(school: School, key: SigningKey, day: dt.date, zone: ZoneInfo, vouchers: list[Voucher],
                rng: random.Random) -> list[MealEvent]:
    """One serving day's QR meals at the school, in the lunch window (LUNCH_AT and the hour after)."""
    events: list[MealEvent] = []
    for voucher in vouchers:
        if not voucher.valid_from <= day <= voucher.valid_to or rng.random() > EAT_SHARE:
            continue
        served = dt.datetime.combine(day, LUNCH_AT, zone) + dt.timedelta(seconds=rng.randrange(0, 3600))
        roll = rng.random()
        issued = served - dt.timedelta(seconds=rng.randrange(20, 240))
        meal = "lunch"
        if roll < EXPIRED_SHARE:
            issued = served - dt.timedelta(hours=3)  # fetched in the morning, shown at lunch
        elif roll < EXPIRED_SHARE + WRONG_MEAL_SHARE:
            meal = "breakfast"
        claims = QrClaims(token_id=uuid.UUID(int=rng.getrandbits(128), version=4), voucher_id=voucher.id,
                          school_bin=school.bin, meal_type=meal, not_before=int(issued.timestamp()),
                          expires=int(issued.timestamp()) + 300, key_id=key.key_id)
        token = encode_token(claims, key)
        events.append(_event(len(events), served, token, claims))
        if rng.random() < REUSED_SHARE:  # the same screenshot shown again a minute later
            events.append(_event(len(events), served + dt.timedelta(minutes=1), token, claims))
    events.sort(key=lambda e: e.served_at)  # in the order the terminal served them
    return events


def _event(index: int, served: dt.datetime, token: str, claims: QrClaims) -> MealEvent:
    # UUIDv7 from the serving time (ms) and the token id's bits, so a rerun would make the same ids.
    ms = int(served.timestamp() * 1000)
    rand = claims.token_id.int ^ index
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62 & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return MealEvent(index=index, event_id=uuid.UUID(int=value), device_seq=index + 1, student_ref="",
                     meal_type="lunch", served_at=served.astimezone(dt.UTC), method="qr", qr_token=token, qr=claims)


def _reindexed(event: MealEvent, index: int, earlier: int) -> MealEvent:
    """The event at `index` of its batch, numbered on from the `earlier` events of the terminal."""
    return MealEvent(index=index, event_id=event.event_id, device_seq=earlier + index + 1, student_ref="",
                     meal_type=event.meal_type, served_at=event.served_at, method="qr", qr_token=event.qr_token,
                     qr=event.qr)


def _unheld_public_key() -> str:
    """The demo terminal never authenticates; a public key is required, so it gets one nobody holds."""
    return base64.urlsafe_b64encode(SigningKey.generate().public_key_raw).rstrip(b"=").decode()
