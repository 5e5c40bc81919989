"""Changing a voucher: every change goes through `transition` (wallet.vouchers.transitions), which checks the
lifecycle and appends the `voucher_transitions` row; guardians' answers also append a `voucher_consents` row.

A voucher is changed under a row lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's writers already take
the database write lock with BEGIN IMMEDIATE, wallet.db), so two guardians answering at once are served one
after the other: the second sees the first's answer and gets a clear conflict.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.errors import Conflict, NotFound
from wallet.messages import T_
from wallet.models import ConsentText, GuardianLink, School, Voucher, VoucherConsent
from wallet.vouchers.lifecycle import CONSENTED_STATUSES
from wallet.vouchers.offers import settle_accepted
from wallet.vouchers.transitions import transition


class VoucherNotFound(NotFound):
    """No voucher with this id among the caller's children's (whether or not it exists)."""


def voucher_not_found() -> VoucherNotFound:
    return VoucherNotFound("voucher_not_found", "No voucher with this id is offered to your children.")


def lock_voucher(session: Session, voucher_id: uuid.UUID) -> Voucher | None:
    return session.scalars(
        select(Voucher).where(Voucher.id == voucher_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def parent_voucher(session: Session, parent_iin: str, voucher_id: uuid.UUID | None, *,
                   lock: bool = False) -> Voucher:
    """The voucher of one of this parent's children; the same VoucherNotFound for any other id."""
    if voucher_id is None:
        raise voucher_not_found()
    query = (select(Voucher).join(GuardianLink, GuardianLink.student_id == Voucher.student_id)
             .where(Voucher.id == voucher_id, GuardianLink.parent_iin == parent_iin))
    if lock:
        query = query.with_for_update(of=Voucher).execution_options(populate_existing=True)
    voucher = session.scalars(query).first()
    if voucher is None:
        raise voucher_not_found()
    return voucher


def current_consent_text(session: Session, now: dt.datetime) -> ConsentText:
    """The newest consent text published by `now` (migration 0006 publishes the first)."""
    text = session.scalars(
        select(ConsentText).where(ConsentText.published_at <= now)
        .order_by(ConsentText.published_at.desc(), ConsentText.version.desc()).limit(1)
    ).first()
    if text is None:
        raise Conflict("consent_text_missing", T_("No consent text has been published yet."))
    return text


def offer_open(voucher: Voucher, now: dt.datetime) -> bool:
    return voucher.status == "offered" and now < voucher.offer_expires_at


def _refuse_answer(voucher: Voucher, now: dt.datetime, answer: str) -> None:
    """The clear conflict for answering an offer that cannot be answered any more."""
    if voucher.status in CONSENTED_STATUSES:
        raise Conflict("voucher_already_accepted", T_("This offer has already been accepted."))
    if voucher.status == "declined":
        raise Conflict("voucher_declined", T_("This offer has been declined."))
    if voucher.status == "withdrawn":
        raise Conflict("voucher_withdrawn", T_("Consent to this voucher has been withdrawn."))
    if voucher.status == "expired" or (voucher.status == "offered" and now >= voucher.offer_expires_at):
        raise Conflict("offer_expired", T_("This offer has expired and can no longer be answered."))


def school_today(session: Session, school_id: int, now: dt.datetime) -> dt.date:
    """The school's local date at `now` (its serving day)."""
    zone = session.scalar(select(School.timezone).where(School.id == school_id)) or "Asia/Almaty"
    return now.astimezone(ZoneInfo(zone)).date()


def accept(session: Session, parent_iin: str, voucher_id: uuid.UUID | None, text_version: str,
           now: dt.datetime, *, today: dt.date | None = None) -> Voucher:
    """A guardian accepts the offer, consenting under `text_version` (the current one). Commits.

    The voucher becomes active at once when its validity has begun (`today`, the school's local date)
    and the pupil is still entitled; otherwise it stays accepted until `sync_vouchers` activates it.
    """
    voucher = parent_voucher(session, parent_iin, voucher_id, lock=True)
    _refuse_answer(voucher, now, "accepted")
    current = current_consent_text(session, now)
    if text_version != current.version:
        raise Conflict("consent_text_outdated",
                       T_("The consent text has changed: read version %(version)s and accept that one.",
                          version=current.version))
    transition(session, voucher, "accepted", "guardian_accepted", actor_role="parent", actor_id=parent_iin,
               now=now)
    session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=parent_iin, decision="accepted",
                               text_version=current.version, at=now))
    settle_accepted(session, voucher, today or school_today(session, voucher.school_id, now), now)
    session.commit()
    return voucher


def decline(session: Session, parent_iin: str, voucher_id: uuid.UUID | None, now: dt.datetime) -> Voucher:
    """A guardian declines the offer: no voucher, no processing. Commits."""
    voucher = parent_voucher(session, parent_iin, voucher_id, lock=True)
    _refuse_answer(voucher, now, "declined")
    current = current_consent_text(session, now)
    transition(session, voucher, "declined", "guardian_declined", actor_role="parent", actor_id=parent_iin,
               now=now)
    session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=parent_iin, decision="declined",
                               text_version=current.version, at=now))
    session.commit()
    return voucher


def withdraw(session: Session, parent_iin: str, voucher_id: uuid.UUID | None, now: dt.datetime) -> Voucher:
    """A guardian withdraws consent to an accepted voucher. Commits."""
    voucher = parent_voucher(session, parent_iin, voucher_id, lock=True)
    if voucher.status not in CONSENTED_STATUSES:
        code = {"offered": "voucher_not_accepted", "declined": "voucher_declined",
                "withdrawn": "voucher_withdrawn", "expired": "voucher_expired"}[voucher.status]
        raise Conflict(code, T_("Only an accepted voucher can be withdrawn; this one is %(status)s.",
                                status=voucher.status))
    accepted_version = session.scalars(
        select(VoucherConsent.text_version).where(VoucherConsent.voucher_id == voucher.id,
                                                  VoucherConsent.decision == "accepted")
        .order_by(VoucherConsent.id.desc()).limit(1)
    ).first() or current_consent_text(session, now).version
    transition(session, voucher, "withdrawn", "consent_withdrawn", actor_role="parent", actor_id=parent_iin,
               now=now)
    session.add(VoucherConsent(voucher_id=voucher.id, parent_iin=parent_iin, decision="withdrawn",
                               text_version=accepted_version, at=now))
    session.commit()
    return voucher
