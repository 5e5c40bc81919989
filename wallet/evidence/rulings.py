"""Rulings: an auditor of the finding's region (or an operator) upholds a finding (its meals' money is
withheld) or dismisses it (paid), with a reason. A ruling is final and append-only; several rulings are
checked whole first, and one bad item writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet import logs
from wallet.errors import FieldError, Forbidden, InvalidInput
from wallet.messages import T_
from wallet.models import RULING_OUTCOMES, Finding, FindingRuling
from wallet.principals import Principal
from wallet.scope import schools_in_scope
from wallet.text import text_problem

log = logs.get_logger(__name__)
MAX_REASON = 2000
RULING_ROLES = ("auditor", "operator")


@dataclass(frozen=True)
class RulingRequest:
    finding_id: int
    outcome: str
    reason: str


def rule(session: Session, principal: Principal, requests: Sequence[RulingRequest],
         now: dt.datetime) -> list[FindingRuling]:
    """Check every request, then write them all (the caller commits); InvalidInput naming each bad item
    (`items/N/field`) otherwise, with nothing written."""
    if principal.role not in RULING_ROLES:
        raise Forbidden("forbidden", T_("only auditors of the region and operators rule on findings"))
    if not requests:
        raise InvalidInput("validation_failed", T_("no rulings given"),
                           [FieldError("items", T_("at least one ruling"))])
    ids = [r.finding_id for r in requests]
    visible = set(session.scalars(select(Finding.id).where(
        Finding.id.in_(ids), Finding.school_id.in_(schools_in_scope(principal)))))
    ruled = set(session.scalars(select(FindingRuling.finding_id).where(FindingRuling.finding_id.in_(ids))))
    errors: list[FieldError] = []
    seen: set[int] = set()
    for n, r in enumerate(requests):
        where = f"items/{n}"
        if r.finding_id not in visible:
            errors.append(FieldError(f"{where}/findingId", T_("no finding %(id)s in your scope", id=r.finding_id),
                                     "not_found"))
        elif r.finding_id in ruled:
            errors.append(FieldError(f"{where}/findingId", T_("finding %(id)s is already ruled on", id=r.finding_id),
                                     "finding_already_ruled"))
        elif r.finding_id in seen:
            errors.append(FieldError(f"{where}/findingId", T_("the same finding twice"), "duplicate"))
        seen.add(r.finding_id)
        if r.outcome not in RULING_OUTCOMES:
            errors.append(FieldError(f"{where}/outcome", T_("upheld or dismissed"), "invalid_choice"))
        problem = text_problem(r.reason.strip(), max_length=MAX_REASON, min_length=3, prose=True)
        if problem is not None:
            errors.append(FieldError(f"{where}/reason", problem.message, problem.code))
    if errors:
        raise InvalidInput("validation_failed", T_("Problems in the rulings (%(count)s); nothing was recorded.",
                                                    count=len(errors)), errors)
    rulings = [FindingRuling(finding_id=r.finding_id, outcome=r.outcome, reason=r.reason.strip(),
                             actor=principal.actor, at=now) for r in requests]
    session.add_all(rulings)
    session.flush()
    for ruling in rulings:  # the audit trail: who ruled what, never the reason's text (it may name people)
        log.info("finding ruled", finding_id=ruling.finding_id, outcome=ruling.outcome, actor=principal.role)
    return rulings


def record_rulings(session: Session, principal: Principal, requests: Sequence[RulingRequest],
                   now: dt.datetime) -> list[FindingRuling]:
    """`rule` and commit: the service the web layer calls."""
    rulings = rule(session, principal, requests, now)
    session.commit()
    return rulings
