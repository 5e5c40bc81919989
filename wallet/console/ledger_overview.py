"""The ledger at a glance: each school's chain head, its newest signed checkpoint (with the signature
checked), and the newest recorded verification run that checked the school, whoever ran it (`wallet verify`
on any host, the auditor endpoint or the console's button; see `wallet.ledger.run_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallet.ledger.run_history import RunView, last_run_per_school
from wallet.ledger.signing import verify_checkpoint
from wallet.models import ChainHead, Checkpoint, School
from wallet.principals import Principal
from wallet.reconciliation.proofs import signed_checkpoint


@dataclass(frozen=True)
class LatestCheckpoint:
    id: int
    tree_size: int
    root_hash: str
    issued_at: dt.datetime
    key_id: str
    reason: str
    signature_ok: bool


@dataclass(frozen=True)
class SchoolLedger:
    school_id: int
    bin: str
    name_kk: str
    name_ru: str
    head_size: int
    head_updated_at: dt.datetime | None
    checkpoint: LatestCheckpoint | None
    last_run: RunView | None

    @property
    def last_run_failed_here(self) -> bool:
        """Whether the last run's first problem is in this school (a national run may fail elsewhere)."""
        run = self.last_run
        return run is not None and run.problem is not None and run.problem.school_bin == self.bin


def ledger_overview(session: Session, principal: Principal, school_ids: list[int],
                    public_keys: Mapping[str, bytes]) -> list[SchoolLedger]:
    ids = school_ids or [-1]
    schools = session.scalars(select(School).where(School.id.in_(ids)).order_by(School.bin)).all()
    heads = {h.school_id: h for h in session.scalars(select(ChainHead).where(ChainHead.school_id.in_(ids)))}
    newest = select(func.max(Checkpoint.id)).where(Checkpoint.school_id.in_(ids)).group_by(Checkpoint.school_id)
    checkpoints = {c.school_id: c for c in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(newest)))}
    runs = last_run_per_school(session, principal, list(ids))
    out = []
    for school in schools:
        head, c = heads.get(school.id), checkpoints.get(school.id)
        latest = None
        if c is not None:
            key = public_keys.get(c.key_id)
            ok = key is not None and verify_checkpoint(signed_checkpoint(c), key)
            latest = LatestCheckpoint(c.id, c.tree_size, bytes(c.root_hash).hex(), c.issued_at, c.key_id,
                                      c.reason, ok)
        out.append(SchoolLedger(school.id, school.bin, school.name_kk, school.name_ru, head.size if head else 0,
                                head.updated_at if head else None, latest, runs.get(school.id)))
    return out
