"""Is the national log witnessed now? One answer for the CLI, the readiness detail and the console."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import WitnessOutcome
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.collect import cosignatures_of
from wallet.witnessing.national import latest_head

__all__ = ["WitnessStatus", "witness_status"]


@dataclass(frozen=True)
class WitnessStatus:
    configured: int
    quorum: int
    head_size: int | None
    head_issued_at: dt.datetime | None
    cosigned_by: tuple[str, ...]
    outcomes: tuple[tuple[str, str, int | None, str, dt.datetime | None], ...]  # name, outcome, status, detail, at

    @property
    def witnessed(self) -> bool:
        return self.configured > 0 and len(self.cosigned_by) >= self.quorum

    def state(self) -> str:
        if not self.configured:
            return "not configured"
        if self.head_size is None:
            return "no national head yet"
        return "witnessed" if self.witnessed else "not witnessed"

    def as_dict(self) -> dict:
        return {"state": self.state(), "headSize": self.head_size, "cosigned": len(self.cosigned_by),
                "quorum": self.quorum, "witnesses": self.configured,
                "down": [name for name, outcome, *_ in self.outcomes if outcome != "cosigned"]}

    def lines(self) -> list[str]:
        head = "none" if self.head_size is None else f"size {self.head_size}"
        lines = [f"national head {head}: {self.state()} ({len(self.cosigned_by)} of {self.configured} "
                 f"cosigned, quorum {self.quorum})"]
        for name, outcome, status, detail, at in self.outcomes:
            when = at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "never asked"
            code = f" HTTP {status}" if status and outcome != "cosigned" else ""
            lines.append(f"  {name}: {outcome}{code} {detail} ({when})")
        return lines


def witness_status(session: Session, policy: WitnessPolicy) -> WitnessStatus:
    head = latest_head(session)
    names = {w.name for w in policy.witnesses}
    cosigned = tuple(c.witness_name for c in cosignatures_of(session, head) if c.witness_name in names) if head else ()
    known = {o.witness_name: o for o in session.scalars(select(WitnessOutcome))}
    outcomes = []
    for witness in policy.witnesses:
        o = known.get(witness.name)
        outcomes.append((witness.name, o.outcome, o.status, o.detail, o.at) if o else
                        (witness.name, "unknown", None, "", None))
    return WitnessStatus(len(policy.witnesses), policy.quorum, head.tree_size if head else None,
                         head.issued_at if head else None, cosigned, tuple(outcomes))
