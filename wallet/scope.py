"""Which schools a staff member may see: the one rule every auditor-facing function applies.

operator: every school; auditor: the schools of their region, or every school when their token says
national scope explicitly (an auditor with neither sees nothing: scopes fail closed, see wallet/principals.py);
school_admin: their school; supplier: the schools where they hold a contract.
"""

from __future__ import annotations

from sqlalchemy import Select, select, true
from sqlalchemy.orm import Session

from wallet.errors import NotFound
from wallet.messages import T_
from wallet.models import Contract, Region, School, Supplier
from wallet.principals import Principal


def schools_in_scope(principal: Principal) -> Select[tuple[int]]:
    """A SELECT of the ids of the schools this principal may see (nothing for unknown roles)."""
    query = select(School.id)
    if principal.role == "operator":
        return query
    if principal.role == "auditor":
        if principal.national:
            return query
        if not principal.region_code:
            return query.where(~true())
        return query.join(Region, Region.id == School.region_id).where(Region.code == principal.region_code)
    if principal.role == "school_admin":
        return query.where(School.bin == (principal.school_bin or ""))
    if principal.role == "supplier":
        return (
            query.join(Contract, Contract.school_id == School.id)
            .join(Supplier, Supplier.id == Contract.supplier_id)
            .where(Supplier.bin == (principal.supplier_bin or ""))
            .distinct()
        )
    return query.where(~true())


def school_in_scope(session: Session, principal: Principal, school_bin: str) -> School:
    """The school with this BIN, or NotFound when it does not exist or lies outside the caller's scope."""
    if not (len(school_bin) == 12 and school_bin.isascii() and school_bin.isdigit()):
        # Not a BIN, so no school; and never sent to the database (PostgreSQL refuses a NUL in text: a 500).
        raise NotFound("school_not_found", T_("no school %(school_bin)r in your scope",
                                              school_bin=school_bin[:20]))
    school = session.scalars(
        select(School).where(School.bin == school_bin, School.id.in_(schools_in_scope(principal)))
    ).one_or_none()
    if school is None:
        raise NotFound("school_not_found", T_("no school %(school_bin)s in your scope", school_bin=school_bin))
    return school
