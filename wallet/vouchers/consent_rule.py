"""The consent rule as SQL: whether a child's data may be shown to its parents (docs/decisions.md, "Vouchers
and consent").

A child without any voucher row is shown (data from before vouchers existed). A child with vouchers is shown
when one of them is accepted, active or suspended (consent holds now, whatever later offer is pending), or
when an accepted voucher has expired and no voucher of the child was withdrawn (the years consented to stay
visible). Otherwise (only offers, declines, lapsed offers, or a withdrawal) its data are withheld.

It is one SQL expression so that a parent's read of one child can check it in the statement that finds the
child and writes the access log (one round trip; wallet.parents.children), and the other readers use the
same definition (wallet.vouchers.views).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, literal_column, not_, or_

from wallet.errors import Forbidden
from wallet.messages import T_
from wallet.models import Voucher, VoucherConsent
from wallet.vouchers.lifecycle import CONSENTED_STATUSES

_VOUCHERS = Voucher.__table__
_CONSENTS = VoucherConsent.__table__


def _one_of_consented(status: Any) -> ColumnElement[bool]:
    # Constants written into the statement: an IN of bound values would be expanded on every execution.
    return status.in_([literal_column(f"'{value}'") for value in CONSENTED_STATUSES])


def consent_shown(student_id: Any) -> ColumnElement[bool]:
    """True when a voucher of the child holds consent now, or an accepted one expired and none was withdrawn
    (false for a child without vouchers: combine with `has_vouchers`, or use `consent_withheld`)."""
    consented = _VOUCHERS.alias("consented")
    expired = _VOUCHERS.alias("expired_accepted")
    withdrawn = _VOUCHERS.alias("withdrawn")
    return or_(
        exists().where(consented.c.student_id == student_id, _one_of_consented(consented.c.status)),
        and_(
            exists().where(expired.c.student_id == student_id, expired.c.status == "expired",
                           exists().where(_CONSENTS.c.voucher_id == expired.c.id,
                                          _CONSENTS.c.decision == "accepted")),
            not_(exists().where(withdrawn.c.student_id == student_id, withdrawn.c.status == "withdrawn")),
        ),
    )


def has_vouchers(student_id: Any) -> ColumnElement[bool]:
    any_voucher = _VOUCHERS.alias("any_voucher")
    return exists().where(any_voucher.c.student_id == student_id)


def consent_withheld(student_id: Any) -> ColumnElement[bool]:
    """True when the child has vouchers but none that lets its data be shown."""
    return and_(has_vouchers(student_id), not_(consent_shown(student_id)))


def consent_required() -> Forbidden:
    return Forbidden("consent_required",
                     T_("Accept the free-meal voucher offer to see this child's meals; until then only the offer is "
                        "shown."))
