"""A month's payment registry is paid only against a witnessed national head (when witnesses are set up).

The head must cover every close checkpoint of the registry's schools (each is a leaf of the national log)
and carry k cosignatures of the configured witnesses; the registry then names the head and lists the
cosignatures, so a payer can check them with the witnesses' keys alone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallet.errors import Conflict
from wallet.messages import T_
from wallet.models import ClosedPeriod, NationalLogLeaf, PeriodCloseCheckpoint
from wallet.months import Month
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.collect import cosignatures_of, witnessed_head

__all__ = ["WitnessEvidence", "registry_witnessing"]


@dataclass(frozen=True)
class WitnessEvidence:
    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: str  # the national head's note text with the operator's signature
    cosignatures: tuple[tuple[str, str, int, str], ...]  # witness name, key id, timestamp, line

    def meta(self) -> list[tuple[str, object]]:
        return [("witnessedLog", self.origin), ("witnessedTreeSize", self.tree_size),
                ("witnessedRootHash", base64.b64encode(self.root_hash).decode()),
                ("witnessedCheckpoint", self.checkpoint)]


def registry_witnessing(session: Session, policy: WitnessPolicy, school_ids: list[int],
                        month: Month) -> WitnessEvidence | None:
    """None without witnesses; else the witnessed head covering the month's close checkpoints, or Conflict."""
    if not policy.enabled:
        return None
    close_ids = select(PeriodCloseCheckpoint.checkpoint_id).join(
        ClosedPeriod, ClosedPeriod.id == PeriodCloseCheckpoint.closed_period_id).where(
        ClosedPeriod.month == str(month), PeriodCloseCheckpoint.school_id.in_(school_ids))
    wanted = session.scalar(select(func.count()).select_from(close_ids.subquery())) or 0
    found, last = session.execute(select(func.count(), func.max(NationalLogLeaf.position))
                                  .where(NationalLogLeaf.checkpoint_id.in_(close_ids))).one()
    if found < wanted:
        raise Conflict("checkpoint_not_witnessed", T_("the close checkpoints of %(month)s are not in the national "
                                                      "log yet: run `wallet witness collect`", month=month))
    head = witnessed_head(session, policy, min_size=0 if last is None else last + 1)
    if head is None:
        raise Conflict("checkpoint_not_witnessed", T_("no national head covering %(month)s's close checkpoints is "
                                                      "cosigned by %(quorum)s of the %(witnesses)s "
                                                      "witnesses yet: payment waits (`wallet witness status`)",
                                                      month=month, quorum=policy.quorum,
                                                      witnesses=len(policy.witnesses)))
    names = {w.name for w in policy.witnesses}
    lines = tuple((c.witness_name, c.key_id, c.timestamp, c.line.rstrip("\n")) for c in cosignatures_of(session, head)
                  if c.witness_name in names)
    return WitnessEvidence(policy.log_origin, head.tree_size, bytes(head.root_hash), head.note, lines)
