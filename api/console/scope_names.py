"""Scopes as people read them: a region's or school's name in the reader's language, not "region:KZ-71".

A scope label (wallet/reconciliation/scope.py) stays the stable machine form in files and JSON; the console
shows its parts by name. Regions and schools have Kazakh and Russian names only: English pages show Russian.
"""

from __future__ import annotations

from sqlalchemy import select

from api import session_scope
from api.console import texts
from wallet.models import Region, School, Supplier


def region_name(code: str | None) -> str:
    if not code:
        return ""
    row = session_scope.session().execute(select(Region.name_kk, Region.name_ru).where(Region.code == code)).first()
    return texts.school_name(row[0], row[1]) if row else code


def school_name(bin_: str | None) -> str:
    if not bin_:
        return ""
    row = session_scope.session().execute(select(School.name_kk, School.name_ru).where(School.bin == bin_)).first()
    return texts.school_name(row[0], row[1]) if row else bin_


def supplier_name(bin_: str | None) -> str:
    if not bin_:
        return ""
    name = session_scope.session().scalar(select(Supplier.name).where(Supplier.bin == bin_))
    return name or bin_


def scope_name(label: str) -> str:
    """"region:KZ-71 supplier:BIN" -> "Алматы облысы · ТОО ..."; "all" -> "everything I may see"."""
    parts = []
    for part in label.split():
        kind, _, value = part.partition(":")
        if kind == "region":
            parts.append(region_name(value))
        elif kind == "school":
            parts.append(school_name(value))
        elif kind == "supplier":
            parts.append(supplier_name(value))
        else:
            parts.append(texts.t("whole_scope"))
    return " · ".join(parts)
