"""Schools named by BIN, as the command line and the jobs name them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.errors import InvalidInput
from wallet.messages import T_
from wallet.models import School


def school_ids_by_bin(session: Session, bins: Iterable[str]) -> list[int]:
    """The ids of the schools with these BINs, in id order; InvalidInput naming every BIN without a school."""
    wanted = set(bins)
    found = dict(session.execute(select(School.bin, School.id).where(School.bin.in_(wanted))).all())
    missing = sorted(wanted - set(found))
    if missing:
        raise InvalidInput("school_not_found", T_("no school with BIN %(bins)s",
                                                  bins=', '.join(missing)))
    return sorted(found.values())
