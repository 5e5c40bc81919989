"""The chain sizes a month's figures are computed from, and the hashes that name them.

A month closed for a region is read as of the signed checkpoints taken at the close (one per school), so
its figures never change. Any other month is read as of the chain heads at the moment of reading (in the
same snapshot as the figures); where a signed checkpoint exists at exactly that size, it is named too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from wallet.ledger.canonical import canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH
from wallet.ledger.checkpoints import head_range
from wallet.ledger.merkle import EMPTY_ROOT
from wallet.models import ChainHead, Checkpoint, ClosedPeriod, PeriodCloseCheckpoint
from wallet.months import Month
from wallet.reconciliation.scope import Scope


@dataclass(frozen=True)
class Head:
    school_id: int
    school_bin: str
    tree_size: int
    root_hash: bytes
    chain_hash: bytes
    frozen: bool  # taken when the month was closed
    checkpoint_id: int | None = None
    key_id: str | None = None
    issued_at: dt.datetime | None = None
    body: str | None = None
    signature: str | None = None

    def as_row(self) -> dict[str, object]:
        return {
            "schoolBin": self.school_bin, "treeSize": self.tree_size, "rootHash": self.root_hash.hex(),
            "chainHash": self.chain_hash.hex(), "frozen": self.frozen, "checkpointId": self.checkpoint_id,
            "keyId": self.key_id, "issuedAt": self.issued_at, "signature": self.signature,
        }


@dataclass(frozen=True)
class AsOf:
    month: Month
    closed: bool  # every school of the scope is read as of its month-close checkpoint
    closed_at: dt.datetime | None  # the latest close among the scope's regions, when closed
    heads: tuple[Head, ...]

    @property
    def digest(self) -> str:
        """SHA-256 over the (school, size, root, chain hash) of every head: one value naming the whole input."""
        listed = [[h.school_bin, h.tree_size, h.root_hash.hex(), h.chain_hash.hex()] for h in self.heads]
        return hashlib.sha256(canonical_bytes(listed)).hexdigest()


def frozen_sizes(month: Month) -> Select[tuple[int, int]]:
    """(school_id, tree_size) of every school whose region closed `month`, as of its close checkpoint."""
    return (
        select(PeriodCloseCheckpoint.school_id.label("school_id"), Checkpoint.tree_size.label("tree_size"))
        .join(ClosedPeriod, ClosedPeriod.id == PeriodCloseCheckpoint.closed_period_id)
        .join(Checkpoint, Checkpoint.id == PeriodCloseCheckpoint.checkpoint_id)
        .where(ClosedPeriod.month == str(month))
    )


def load_as_of(session: Session, scope: Scope, month: Month) -> AsOf:
    ids = scope.school_ids
    closes = {
        region_id: closed_at
        for region_id, closed_at in session.execute(
            select(ClosedPeriod.region_id, ClosedPeriod.closed_at).where(
                ClosedPeriod.month == str(month), ClosedPeriod.region_id.in_(scope.region_ids or {-1})
            )
        )
    }
    frozen: dict[int, Checkpoint] = {}
    if closes and ids:
        for school_id, checkpoint in session.execute(
            select(PeriodCloseCheckpoint.school_id, Checkpoint)
            .join(ClosedPeriod, ClosedPeriod.id == PeriodCloseCheckpoint.closed_period_id)
            .join(Checkpoint, Checkpoint.id == PeriodCloseCheckpoint.checkpoint_id)
            .where(ClosedPeriod.month == str(month), PeriodCloseCheckpoint.school_id.in_(ids))
        ):
            frozen[school_id] = checkpoint
    current = {h.school_id: h for h in session.scalars(select(ChainHead).where(ChainHead.school_id.in_(ids)))}
    signed_at_size = {
        c.school_id: c
        for c in session.scalars(
            select(Checkpoint)
            .join(ChainHead, and_(ChainHead.school_id == Checkpoint.school_id, ChainHead.size == Checkpoint.tree_size))
            .where(Checkpoint.school_id.in_(ids))
            .order_by(Checkpoint.id)
        )
    }
    heads = []
    for school in scope.schools:
        checkpoint = frozen.get(school.id)
        if checkpoint is not None:
            heads.append(_signed(school.id, school.bin, checkpoint, frozen=True))
            continue
        head = current.get(school.id)
        signed = signed_at_size.get(school.id)
        if signed is not None:
            heads.append(_signed(school.id, school.bin, signed, frozen=False))
        elif head is None:
            heads.append(Head(school.id, school.bin, 0, EMPTY_ROOT, GENESIS_CHAIN_HASH, frozen=False))
        else:
            heads.append(Head(school.id, school.bin, head.size, head_range(head).root(), bytes(head.chain_hash),
                              frozen=False))
    closed = bool(scope.schools) and all(h.frozen for h in heads)
    closed_at = max(closes.values()) if closed and closes else None
    return AsOf(month=month, closed=closed, closed_at=closed_at, heads=tuple(heads))


def _signed(school_id: int, school_bin: str, checkpoint: Checkpoint, *, frozen: bool) -> Head:
    return Head(school_id, school_bin, checkpoint.tree_size, bytes(checkpoint.root_hash),
                bytes(checkpoint.chain_hash), frozen=frozen, checkpoint_id=checkpoint.id,
                key_id=checkpoint.key_id, issued_at=checkpoint.issued_at, body=checkpoint.body,
                signature=checkpoint.signature)
