"""What a reconciliation or an export covers: a set of schools, and for a supplier only its own contracts.

The schools are always those the caller may see (wallet.scope), narrowed to one region or one school when
asked. A region or school outside the caller's scope is answered as if it did not exist (NotFound).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.disclosure import IIN_READERS, may_read_staff_subject
from wallet.errors import FieldError, Forbidden, InvalidInput, NotFound
from wallet.messages import T_
from wallet.models import Region, School, Supplier
from wallet.principals import STAFF_ROLES, Principal
from wallet.scope import school_in_scope, schools_in_scope

_BIN = re.compile(r"\d{12}")
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


@dataclass(frozen=True)
class ScopeSchool:
    id: int
    bin: str
    name: str
    region_id: int
    timezone: str


@dataclass(frozen=True)
class Scope:
    label: str  # e.g. "region:KZ-71", "school:010140001234", "all"; " supplier:BIN" when limited to a supplier
    schools: tuple[ScopeSchool, ...]  # in BIN order
    supplier_id: int | None = None
    supplier_bin: str | None = None
    show_iin: bool = False  # children's IINs (and IIN-shaped references) in full (wallet.disclosure)
    show_staff: bool = False  # staff subjects in `actor` in full, else the role alone (wallet.disclosure)

    @property
    def school_ids(self) -> list[int]:
        return [s.id for s in self.schools]

    @property
    def region_ids(self) -> set[int]:
        return {s.region_id for s in self.schools}

    @property
    def timezones(self) -> list[str]:
        return sorted({s.timezone for s in self.schools})

    @property
    def slug(self) -> str:
        """The label made safe for a file name."""
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.label).strip("-")


def resolve_scope(
    session: Session,
    principal: Principal,
    *,
    region: str | None = None,
    school: str | None = None,
    show_iin: bool | None = None,
) -> Scope:
    """The caller's scope, narrowed to `region` or `school` (not both)."""
    if principal.role not in STAFF_ROLES:
        raise Forbidden("forbidden", T_("reconciliations are for staff roles only"))
    if region is not None and school is not None:
        raise InvalidInput("validation_failed", T_("give a region or a school, not both"),
                           [FieldError("school", T_("not together with region"))])
    supplier_id = None
    if principal.role == "supplier":
        supplier_id = session.scalar(select(Supplier.id).where(Supplier.bin == (principal.supplier_bin or "")))
        if supplier_id is None:
            raise Forbidden("unknown_supplier", T_("the token names no known supplier"))
    visible = schools_in_scope(principal)
    query = select(School.id, School.bin, School.name_ru, School.region_id, School.timezone)
    if school is not None:
        if not _BIN.fullmatch(school):
            raise InvalidInput("validation_failed", T_("a school is named by its 12-digit BIN"),
                               [FieldError("school", T_("a 12-digit BIN"))])
        found = school_in_scope(session, principal, school)
        query, label = query.where(School.id == found.id), f"school:{school}"
    elif region is not None:
        if not _REGION.fullmatch(region):
            raise InvalidInput("validation_failed", T_("a region is named by its code"),
                               [FieldError("region", T_("a region code such as KZ-71"))])
        region_id = session.scalar(select(Region.id).where(Region.code == region))
        in_reach = region_id is not None and (
            principal.role == "operator"
            or (principal.role == "auditor" and (principal.national or principal.region_code == region))
            or session.scalar(select(School.id).where(School.region_id == region_id, School.id.in_(visible)).limit(1))
            is not None
        )
        if not in_reach:
            raise NotFound("region_not_found", T_("no region %(region)s in your scope", region=region))
        query, label = query.where(School.region_id == region_id, School.id.in_(visible)), f"region:{region}"
    else:
        query, label = query.where(School.id.in_(visible)), _default_label(principal)
    if principal.role == "supplier":
        label = f"{label} supplier:{principal.supplier_bin}"
    schools = tuple(ScopeSchool(*row) for row in session.execute(query.order_by(School.bin)))
    return Scope(label=label, schools=schools, supplier_id=supplier_id,
                 supplier_bin=principal.supplier_bin if supplier_id is not None else None,
                 show_iin=principal.role in IIN_READERS if show_iin is None else show_iin,
                 show_staff=may_read_staff_subject(principal.role))


def _default_label(principal: Principal) -> str:
    if principal.role == "auditor" and principal.region_code:
        return f"region:{principal.region_code}"
    if principal.role == "school_admin":
        return f"school:{principal.school_bin}"
    return "all"


def parse_scope_text(text: str) -> tuple[str | None, str | None, str | None]:
    """The command line's --scope: all | region:CODE | school:BIN | supplier:BIN -> (region, school, supplier)."""
    kind, _, value = text.partition(":")
    if kind == "all" and not value:
        return None, None, None
    if kind in ("region", "school", "supplier") and value:
        return (value if kind == "region" else None, value if kind == "school" else None,
                value if kind == "supplier" else None)
    raise InvalidInput("invalid_scope", T_("%(text)r is not a scope: use all, region:CODE, school:BIN or "
                                           "supplier:BIN", text=text),
                       [FieldError("scope", T_("all | region:CODE | school:BIN | supplier:BIN"))])
