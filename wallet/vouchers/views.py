"""What parents read about vouchers: their children's offers and vouchers, and whether a child's data may be
shown (the consent rule of docs/decisions.md, "Vouchers and consent").

The eligibility ground is read here only for the single-voucher view a parent opens on purpose; lists,
notifications and anything a canteen sees never carry it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import (
    ConsentText,
    EligibilityCategory,
    GuardianLink,
    School,
    Student,
    Voucher,
    VoucherConsent,
)
from wallet.vouchers.consent_rule import consent_shown
from wallet.vouchers.lifecycle import CONSENTED_STATUSES
from wallet.vouchers.service import current_consent_text, offer_open, voucher_not_found


@dataclass(frozen=True)
class ConsentAnswer:
    decision: str
    at: dt.datetime
    text_version: str
    parent_iin: str


@dataclass(frozen=True)
class VoucherView:
    voucher: Voucher
    child_first_name: str
    school_bin: str
    school_name_kk: str
    school_name_ru: str
    consent_text: ConsentText
    last_answer: ConsentAnswer | None
    offer_open: bool
    ground: EligibilityCategory | None = None  # only in the single-voucher view

    @property
    def can_withdraw(self) -> bool:
        return self.voucher.status in CONSENTED_STATUSES


_VOUCHERS = (
    select(Voucher, Student.first_name, School.bin, School.name_kk, School.name_ru)
    .join(GuardianLink, GuardianLink.student_id == Voucher.student_id)
    .join(Student, Student.id == Voucher.student_id)
    .join(School, School.id == Voucher.school_id)
)


def _answers(session: Session, voucher_ids: list[uuid.UUID]) -> dict[uuid.UUID, ConsentAnswer]:
    """The latest guardian answer per voucher."""
    found: dict[uuid.UUID, ConsentAnswer] = {}
    if not voucher_ids:
        return found
    for row in session.scalars(select(VoucherConsent).where(VoucherConsent.voucher_id.in_(voucher_ids))
                               .order_by(VoucherConsent.id)):
        found[row.voucher_id] = ConsentAnswer(row.decision, row.at, row.text_version, row.parent_iin)
    return found


def parent_vouchers(session: Session, parent_iin: str, now: dt.datetime) -> list[VoucherView]:
    """Offers and vouchers of the parent's children, newest school year first."""
    rows = session.execute(
        _VOUCHERS.where(GuardianLink.parent_iin == parent_iin)
        .order_by(Voucher.school_year.desc(), Student.first_name, Voucher.offered_at.desc(), Voucher.id)
    ).all()
    text = current_consent_text(session, now)
    answers = _answers(session, [r[0].id for r in rows])
    return [VoucherView(v, first, bin_, kk, ru, text, answers.get(v.id), offer_open(v, now))
            for v, first, bin_, kk, ru in rows]


def parent_voucher_view(session: Session, parent_iin: str, voucher_id: uuid.UUID | None,
                        now: dt.datetime) -> VoucherView:
    """One voucher of the parent's children, with its ground; VoucherNotFound for any other id."""
    if voucher_id is None:
        raise voucher_not_found()
    row = session.execute(
        _VOUCHERS.where(GuardianLink.parent_iin == parent_iin, Voucher.id == voucher_id)).first()
    if row is None:
        raise voucher_not_found()
    v, first, bin_, kk, ru = row
    return VoucherView(v, first, bin_, kk, ru, current_consent_text(session, now), _answers(session, [v.id]).get(v.id),
                       offer_open(v, now), session.get(EligibilityCategory, v.category_code))


# --- the consent rule for the children endpoints --------------------------------------------------------------


def voucher_states(session: Session, parent_iin: str,
                   child_ids: Iterable[uuid.UUID] | None = None) -> dict[uuid.UUID, tuple[str, bool]]:
    """Per child of this parent that has vouchers: (status of the latest voucher, whether its data may be
    shown by the consent rule of wallet.vouchers.consent_rule). A child without any voucher is absent:
    legacy data, shown as before vouchers existed."""
    query = (select(Voucher.student_id, Voucher.status, Voucher.school_year, Voucher.offered_at,
                    consent_shown(Voucher.student_id))
             .join(GuardianLink, GuardianLink.student_id == Voucher.student_id)
             .where(GuardianLink.parent_iin == parent_iin))
    if child_ids is not None:
        query = query.where(Voucher.student_id.in_(list(child_ids)))
    latest: dict[uuid.UUID, tuple[str, dt.datetime, str, bool]] = {}
    for sid, status, year, offered_at, shown in session.execute(query):
        if sid not in latest or (year, offered_at) > latest[sid][:2]:
            latest[sid] = (year, offered_at, status, bool(shown))
    return {sid: (status, shown) for sid, (_, _, status, shown) in latest.items()}

