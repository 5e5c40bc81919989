"""What every statement of one reconciliation reads with: the session, the scope and month, the dialect,
the schools' zones, and whether the month's groupings come from its entries or from the derived totals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from wallet.db import one_of
from wallet.models import Contract, LedgerEntry, School
from wallet.months import Month
from wallet.reconciliation.dialect import prepare
from wallet.reconciliation.heads import frozen_sizes
from wallet.reconciliation.scope import Scope

FAR = 2**62  # "no size limit" for schools whose month is not frozen
_ENTRIES = LedgerEntry.__table__
_SCHOOLS = School.__table__


@dataclass(frozen=True)
class MonthReading:
    session: Session
    scope: Scope
    month: Month
    now: dt.datetime
    dialect: str
    zones: list[str]
    any_frozen: bool  # without a frozen school, the statements skip the join to close sizes
    from_entries: bool  # read the entries (a closed month, or asked for), not the derived totals

    def in_scope(self, column: Any) -> ColumnElement[bool]:
        return one_of(self.session, column, self.scope.school_ids)

    def month_entries(self, entry: Any = _ENTRIES) -> list[ColumnElement[bool]]:
        return [self.in_scope(entry.c.school_id), entry.c.serving_day >= self.month.first_day,
                entry.c.serving_day <= self.month.last_day]

    def frozen(self) -> Any:
        return frozen_sizes(self.month).subquery("frozen")

    def entry_rows(self, columns: list[Any], frozen: Any, needs_schools: bool = False) -> Select[Any]:
        """The month's entries of the scope, up to the close sizes of frozen schools."""
        e = _ENTRIES
        statement = select(*columns).select_from(e)
        if needs_schools:
            statement = statement.join(_SCHOOLS, _SCHOOLS.c.id == e.c.school_id)
        if not self.any_frozen:
            return statement.where(*self.month_entries())
        return (statement.outerjoin(frozen, frozen.c.school_id == e.c.school_id)
                .where(*self.month_entries(), or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size)))


def open_reading(session: Session, scope: Scope, month: Month, now: dt.datetime, *, any_frozen: bool = True,
                 from_entries: bool = False) -> MonthReading:
    """The reading of one reconciliation, its transaction set up for the statements (dialect.prepare).

    An open month (no school frozen) is read from the derived totals, which hold its groups; a closed
    month, or a caller who asks (tests, `wallet totals check`), reads the entries themselves."""
    from_entries = from_entries or any_frozen
    prepare(session, from_entries=from_entries)
    return MonthReading(session=session, scope=scope, month=month, now=now,
                        dialect=session.get_bind().dialect.name, zones=scope.timezones or ["Asia/Almaty"],
                        any_frozen=any_frozen, from_entries=from_entries)


def supplier_of(g: Any) -> tuple[Any, Any, ColumnElement[int]]:
    """Contracts joined to an aggregate with school_id, day and contract_id: billed meals carry their
    contract; refused attempts belong to the contract in force at the school that day."""
    billed = aliased(Contract, name="billed")
    covering = aliased(Contract, name="covering")
    return billed, covering, func.coalesce(billed.supplier_id, covering.supplier_id)
