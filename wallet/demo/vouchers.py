"""Vouchers for the demo world, after its CSV files are imported: offers, guardians' answers, a suspension.

- Offers go to every pupil entitled on the school year's first day (or on `today` in summer) and to those
  entitled today, through `offer_vouchers`, as the real job does.
- Each offer's answer is drawn from the pupil's IIN and the seed, so it is the same on every run: about 7 in
  10 accepted (by the pupil's first guardian, with consent to the current text), 1 in 10 declined, the rest
  left open. Pupils no longer entitled today (their assistance ended mid-year) always accept, so that the
  sync that follows suspends their vouchers (`eligibility_lost`), as it would in life.
- Then `sync_vouchers` for today: accepted vouchers whose validity began become active.

Running it again changes nothing: offers exist, answered ones are no longer offers, open ones draw the same
"leave open" again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallet.models import GuardianLink, Student, Voucher, VoucherConsent
from wallet.vouchers.offers import entitlements, offer_vouchers, settle_accepted, sync_vouchers
from wallet.vouchers.service import current_consent_text
from wallet.vouchers.transitions import transition
from wallet.vouchers.years import parse_school_year, school_year_of


def _answer(seed: int, iin: str) -> str:
    draw = hashlib.sha256(f"{seed}:{iin}".encode()).digest()[0] % 10
    return "accept" if draw < 7 else "decline" if draw == 7 else "open"


def make_demo_vouchers(session: Session, *, today: dt.date, seed: int, now: dt.datetime | None = None) -> Counter[str]:
    """Offer, answer and sync the demo's vouchers in one transaction; commit. Returns vouchers by status."""
    now = now or dt.datetime.now(dt.UTC)
    year = school_year_of(today)
    start, _ = parse_school_year(year)
    offer_vouchers(session, year, min(start, today), now)
    offer_vouchers(session, year, today, now)
    open_offers = list(session.execute(
        select(Voucher, Student.iin).join(Student, Student.id == Voucher.student_id)
        .where(Voucher.school_year == year, Voucher.status == "offered").order_by(Student.iin)))
    if open_offers:
        guardians = {sid: iin for sid, iin in session.execute(
            select(GuardianLink.student_id, func.min(GuardianLink.parent_iin))
            .where(GuardianLink.student_id.in_([v.student_id for v, _ in open_offers]))
            .group_by(GuardianLink.student_id))}
        entitled = entitlements(session, [v.student_id for v, _ in open_offers], today)
        version = current_consent_text(session, now).version
        for voucher, iin in open_offers:
            parent = guardians.get(voucher.student_id)
            answer = "accept" if (voucher.student_id, voucher.school_id) not in entitled else _answer(seed, iin)
            if parent is None or answer == "open":
                continue
            decision, status = ("accepted", "accepted") if answer == "accept" else ("declined", "declined")
            transition(session, voucher, status, f"guardian_{decision}", actor_role="parent", actor_id=parent,
                       now=now)
            session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=parent, decision=decision,
                                       text_version=version, at=now))
            if status == "accepted":
                settle_accepted(session, voucher, today, now)
    sync_vouchers(session, year, today, now)
    session.commit()
    counts = session.execute(select(Voucher.status, func.count()).where(Voucher.school_year == year)
                             .group_by(Voucher.status))
    return Counter({status: n for status, n in counts})
