"""Closing a month for a region: from then on its figures are fixed by a signed checkpoint of every school.

One transaction records the close and signs the chain head of every school of the region, each under its
chain-head lock, so a meal is either in the chain before the checkpoint (and in the month) or after it (and,
being refused with `period_closed` by the ingest, counted as an adjustment of the month it arrived in).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import Conflict, Forbidden, InvalidInput, NotFound
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.signing import SigningKey
from wallet.messages import T_
from wallet.models import Checkpoint, ClosedPeriod, PeriodCloseCheckpoint, Region, School
from wallet.months import Month
from wallet.principals import Principal
from wallet.scope import schools_in_scope

DEFAULT_ZONE = "Asia/Almaty"


@dataclass(frozen=True)
class ClosedMonth:
    region_code: str
    month: str
    closed_at: dt.datetime
    closed_by: str
    checkpoints: list[tuple[str, Checkpoint]]  # (school BIN, checkpoint), in BIN order


def close_period(session: Session, principal: Principal, region_code: str, month: Month, key: SigningKey, *,
                 now: dt.datetime | None = None) -> ClosedMonth:
    """Close `month` for the region and sign every school's chain; commits. Operators only."""
    if principal.role != "operator":
        raise Forbidden("forbidden", T_("only operators close periods"))
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    region = session.scalars(select(Region).where(Region.code == region_code)).one_or_none()
    if region is None:
        raise NotFound("region_not_found", T_("no region %(region_code)s", region_code=region_code))
    schools = list(session.scalars(select(School).where(School.region_id == region.id).order_by(School.id)))
    zones = {s.timezone for s in schools} or {DEFAULT_ZONE}
    if any(now < month.ends_at(zone) for zone in zones):
        raise InvalidInput("period_not_over", T_("%(month)s has not ended yet in region %(region_code)s",
                                                 month=month, region_code=region_code))
    if session.scalar(select(ClosedPeriod.id).where(ClosedPeriod.region_id == region.id,
                                                     ClosedPeriod.month == str(month))) is not None:
        raise Conflict("period_already_closed", T_("%(month)s is already closed for region %(region_code)s",
                                                   month=month, region_code=region_code))
    closed = ClosedPeriod(region_id=region.id, month=str(month), closed_at=now, closed_by=principal.actor)
    session.add(closed)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("period_already_closed", T_("%(month)s is already closed for region %(region_code)s",
                                                   month=month, region_code=region_code)) from exc
    signed = []
    for school in schools:
        checkpoint = make_checkpoint(session, school.id, key, reason=f"period-close {month}", now=now)
        session.add(PeriodCloseCheckpoint(closed_period_id=closed.id, school_id=school.id,
                                          checkpoint_id=checkpoint.id))
        signed.append((school.bin, checkpoint))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("period_already_closed", T_("%(month)s is already closed for region %(region_code)s",
                                                   month=month, region_code=region_code)) from exc
    return ClosedMonth(region_code, str(month), now, principal.actor, sorted(signed, key=lambda item: item[0]))


@dataclass(frozen=True)
class ClosedPeriodInfo:
    region_code: str
    month: str
    closed_at: dt.datetime
    closed_by: str
    schools: int


def list_closed(session: Session, principal: Principal, *, region_code: str | None = None,
                month: Month | None = None) -> list[ClosedPeriodInfo]:
    """Closed months of the regions where the caller sees at least one school, newest first."""
    visible_regions = select(School.region_id).where(School.id.in_(schools_in_scope(principal)))
    statement = (
        select(Region.code, ClosedPeriod.month, ClosedPeriod.closed_at, ClosedPeriod.closed_by,
               func.count(PeriodCloseCheckpoint.school_id))
        .join(Region, Region.id == ClosedPeriod.region_id)
        .outerjoin(PeriodCloseCheckpoint, PeriodCloseCheckpoint.closed_period_id == ClosedPeriod.id)
        .where(ClosedPeriod.region_id.in_(visible_regions) if principal.role != "operator" else ClosedPeriod.id > 0)
        .group_by(Region.code, ClosedPeriod.month, ClosedPeriod.closed_at, ClosedPeriod.closed_by)
        .order_by(ClosedPeriod.month.desc(), Region.code)
    )
    if region_code is not None:
        statement = statement.where(Region.code == region_code)
    if month is not None:
        statement = statement.where(ClosedPeriod.month == str(month))
    return [ClosedPeriodInfo(*row) for row in session.execute(statement)]
