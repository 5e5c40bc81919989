"""A school's classes as its roster names them, for telling a person which class names exist.

Class names are written as the school writes them, in Cyrillic ("2А", "3Ә"): a name typed with a Latin
letter that looks the same ("2A") names no class, so `look_alike` finds the class that was meant.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import Enrollment

# Latin letters that look like Cyrillic ones on a class sign.
_LATIN_TO_CYRILLIC = str.maketrans("ABCEHKMOPTXaceopx", "АВСЕНКМОРТХасеорх")
_GRADE = re.compile(r"(\d+)(.*)")


def _order(name: str) -> tuple[int, str]:
    """1А, 1Б, 2А, ..., 10А, 11А: by grade number, then letter."""
    match = _GRADE.fullmatch(name)
    return (int(match.group(1)), match.group(2)) if match else (10**6, name)


def school_classes(session: Session, school_id: int) -> list[str]:
    """Every class name the school's enrollments have used, in grade order."""
    names = session.scalars(
        select(Enrollment.class_name).where(Enrollment.school_id == school_id, Enrollment.class_name.is_not(None))
        .distinct()
    )
    return sorted({name for name in names if name}, key=_order)


def look_alike(name: str, classes: list[str]) -> str | None:
    """The class `name` means when typed with Latin look-alike letters (or another case), if exactly one."""
    wanted = name.strip().translate(_LATIN_TO_CYRILLIC).upper()
    matches = [c for c in classes if c.upper() == wanted]
    return matches[0] if len(matches) == 1 else None
