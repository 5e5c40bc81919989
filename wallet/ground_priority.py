"""A ground's place in the ingest's billing priority, as an SQL sort key (the ceiling counts a child's day
under the first of its grounds, as the ingest bills it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, literal

from wallet.categories import CATEGORY_PRIORITY

__all__ = ["priority_key"]


def priority_key(category: Any) -> ColumnElement[str]:
    """'00primary_grades', ..., '99other': the priority in two digits, then the ground's code."""
    return case(
        *((category == code, literal(f"{n:02d}")) for n, code in enumerate(CATEGORY_PRIORITY)),
        else_=literal("99"),
    ) + category
