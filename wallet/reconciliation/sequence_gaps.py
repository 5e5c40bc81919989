"""Lost sequence numbers: the terminals whose numbers have holes (a part of the main statement, over `g`),
and for those few, the exact missing runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, and_, cast, exists, func, or_, select
from sqlalchemy.sql import Select

from wallet.models import LedgerEntry
from wallet.reconciliation.dialect import group_total
from wallet.reconciliation.parts import PartRow, part
from wallet.reconciliation.reading import FAR, MonthReading
from wallet.reconciliation.results import SequenceGap

_ENTRIES = LedgerEntry.__table__


def terminal_part(g: Any) -> Select[Any]:
    """Terminals whose sequence numbers in the month have a hole, or whose first number has no predecessor."""
    per_terminal = (
        select(g.c.school_id, g.c.terminal_id, cast(func.min(g.c.seq_min), BigInteger).label("seq_min"),
               cast(func.max(g.c.seq_max), BigInteger).label("seq_max"),
               group_total(g.c.seq_n).label("seq_n"),
               func.max(g.c.frozen_size).label("frozen_size"))
        .where(g.c.terminal_id.is_not(None))
        .group_by(g.c.school_id, g.c.terminal_id)
        .cte("per_terminal")
    )
    before = _ENTRIES.alias("before")
    has_predecessor = exists().where(
        before.c.terminal_id == per_terminal.c.terminal_id,
        before.c.device_seq == per_terminal.c.seq_min - 1,
        before.c.position <= func.coalesce(per_terminal.c.frozen_size, FAR),
    )
    return (
        part("terminal", {"school_id": per_terminal.c.school_id, "terminal_id": per_terminal.c.terminal_id},
             {"seq_min": per_terminal.c.seq_min, "seq_max": per_terminal.c.seq_max,
              "seq_n": per_terminal.c.seq_n})
        .select_from(per_terminal)
        .where(or_(per_terminal.c.seq_max - per_terminal.c.seq_min + 1 > per_terminal.c.seq_n,
                   and_(per_terminal.c.seq_min > 1, ~has_predecessor)))
    )


def sequence_gaps(reading: MonthReading, flagged: Iterable[PartRow]) -> list[SequenceGap]:
    """The exact missing runs of the flagged terminals (a few), up to the close sizes of frozen schools."""
    e = _ENTRIES
    frozen_sizes_now = reading.frozen()
    frozen = {school_id: size for school_id, size in reading.session.execute(
        select(frozen_sizes_now.c.school_id, frozen_sizes_now.c.tree_size))}
    gaps: list[SequenceGap] = []
    for row in flagged:
        limit = frozen.get(row.school_id, FAR)
        visible = [e.c.terminal_id == row.terminal_id, e.c.position <= limit]
        previous = reading.session.scalar(
            select(func.max(e.c.device_seq)).where(*visible, e.c.device_seq < row.seq_min)) or 0
        lag = func.lag(e.c.device_seq).over(order_by=e.c.device_seq)
        ordered = (
            select(e.c.device_seq.label("seq"), lag.label("prev"))
            .where(*visible, e.c.device_seq >= previous, e.c.device_seq <= row.seq_max)
            .subquery()
        )
        start = [] if previous else [(0, row.seq_min)]
        runs = start + list(reading.session.execute(
            select(ordered.c.prev, ordered.c.seq).where(ordered.c.prev.is_not(None),
                                                        ordered.c.seq - ordered.c.prev > 1)
        ).all())
        gaps += [SequenceGap(row.school_id, row.terminal_id, int(prev) + 1, int(seq) - 1)
                 for prev, seq in runs if seq - prev > 1]
    return gaps

