"""Signed checkpoints of school chains: the Merkle tree head and chain hash at one size, signed with Ed25519.

A checkpoint is taken under the chain-head lock, so it always describes a size the chain really had, and
at most one is stored per (school, size, key): asking again at the same size returns the stored one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallet.db import transaction
from wallet.ledger.append import lock_chain_head
from wallet.ledger.canonical import canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH
from wallet.ledger.merkle import CompactRange
from wallet.ledger.signing import SigningKey, checkpoint_body, sign_checkpoint
from wallet.models import ChainHead, Checkpoint, LedgerEntry, School

__all__ = ["CheckpointError", "head_range", "make_checkpoint", "make_checkpoints"]

MAX_REASON_CHARS = 40  # Checkpoint.reason column


class CheckpointError(RuntimeError):
    """The chain head cannot be signed: it disagrees with the ledger, or the school is unknown."""


def head_range(head: ChainHead) -> CompactRange:
    """The head's Merkle frontier; a head created but never appended to may store no frontier yet."""
    if not head.frontier:
        return CompactRange()
    return CompactRange.from_bytes(head.frontier)


def make_checkpoint(
    session: Session,
    school_id: int,
    key: SigningKey,
    *,
    reason: str = "periodic",
    now: dt.datetime | None = None,
) -> Checkpoint:
    """Sign the school's chain head as it is now and store the checkpoint; the caller commits.

    Locks the chain head for the rest of the transaction (appends to this school wait). Returns the
    existing checkpoint if this key has already signed the chain at its current size.
    """
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason must be 1 to {MAX_REASON_CHARS} characters")
    issued = dt.datetime.now(dt.UTC) if now is None else now
    if issued.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    issued = issued.astimezone(dt.UTC).replace(microsecond=0)
    school_bin = session.scalar(select(School.bin).where(School.id == school_id))
    if school_bin is None:
        raise CheckpointError(f"no school with id {school_id}")

    head = lock_chain_head(session, school_id)
    existing = session.scalars(
        select(Checkpoint).where(
            Checkpoint.school_id == school_id,
            Checkpoint.tree_size == head.size,
            Checkpoint.key_id == key.key_id,
        )
    ).one_or_none()
    if existing is not None:
        return existing

    try:
        frontier = head_range(head)
    except ValueError as exc:
        raise CheckpointError(f"school {school_bin}: chain head frontier is unreadable: {exc}") from exc
    _check_head_against_ledger(session, head, frontier, school_bin)

    body = checkpoint_body(
        chain_id=school_bin,
        tree_size=head.size,
        root_hash=frontier.root(),
        chain_hash=head.chain_hash,
        issued_at=issued.isoformat().replace("+00:00", "Z"),
    )
    signed = sign_checkpoint(body, key)
    checkpoint = Checkpoint(
        school_id=school_id,
        tree_size=head.size,
        root_hash=frontier.root(),
        chain_hash=head.chain_hash,
        issued_at=issued,
        key_id=signed["keyId"],
        body=canonical_bytes(signed["body"]).decode(),
        signature=signed["signature"],
        reason=reason,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def make_checkpoints(
    session_factory: sessionmaker[Session],
    key: SigningKey,
    school_ids: Iterable[int] | None = None,
    *,
    reason: str = "periodic",
    now: dt.datetime | None = None,
) -> list[Checkpoint]:
    """A checkpoint for each school in `school_ids` (default: every school with a chain head).

    Each school is signed and committed in its own transaction, so no chain-head lock is held longer than
    one school's checkpoint takes.
    """
    if school_ids is None:
        with session_factory() as session:
            ids = list(session.scalars(select(ChainHead.school_id).order_by(ChainHead.school_id)))
    else:
        ids = list(school_ids)
    checkpoints = []
    for school_id in ids:
        with transaction(session_factory) as session:
            checkpoints.append(make_checkpoint(session, school_id, key, reason=reason, now=now))
    return checkpoints


def _check_head_against_ledger(
    session: Session, head: ChainHead, frontier: CompactRange, school_bin: str
) -> None:
    """Refuse to sign a head that does not match the ledger's last entry (a cheap check, not `verify`)."""
    if frontier.size != head.size:
        raise CheckpointError(
            f"school {school_bin}: chain head size {head.size} but its frontier has {frontier.size} leaves"
        )
    last = session.execute(
        select(LedgerEntry.position, LedgerEntry.chain_hash)
        .where(LedgerEntry.school_id == head.school_id)
        .order_by(LedgerEntry.position.desc())
        .limit(1)
    ).first()
    last_position, last_chain = (last.position, last.chain_hash) if last else (0, GENESIS_CHAIN_HASH)
    if last_position != head.size or bytes(last_chain) != bytes(head.chain_hash):
        raise CheckpointError(
            f"school {school_bin}: chain head (size {head.size}) does not match the last ledger entry "
            f"(position {last_position}); run `wallet verify`"
        )
