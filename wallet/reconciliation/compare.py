"""The month's reconciliation read from the derived totals against the same read from the entries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import Region, School
from wallet.months import Month
from wallet.principals import Principal
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope

# What a reconciliation holds that both ways of reading must agree on.
PARTS = ("totals", "lines", "days", "gaps", "children", "adjustments", "claim_totals", "claim_differences")


def differing_reconciliations(session: Session, principal: Principal, month: Month, school_ids: list[int] | None,
                              now: dt.datetime) -> list[str]:
    """One line per region (every region, or those of the schools) whose two reconciliations, as `principal`
    reads them, differ."""
    regions = select(Region.code).order_by(Region.code)
    if school_ids is not None:
        regions = regions.where(Region.id.in_(select(School.region_id).where(School.id.in_(school_ids))))
    found = []
    for code in session.scalars(regions).all():
        scope = resolve_scope(session, principal, region=code)
        fast = reconcile(session, scope, month, now=now)
        slow = reconcile(session, scope, month, now=now, from_entries=True)
        differing = [p for p in PARTS if getattr(fast, p) != getattr(slow, p)]
        if differing:
            found.append(f"reconciliation of {month} in region {code}: {', '.join(differing)} differ "
                         "between the totals and the entries")
    return found
