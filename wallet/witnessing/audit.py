"""`wallet witness verify`: recompute the national log from the stored school checkpoints and check every
head and cosignature, naming the first thing that does not match.

Each leaf must be the C2SP text of its school checkpoint as stored now (a checkpoint row changed after it
entered the log shows here), each head's size and root must be those of the leaves below it, its note must
be that checkpoint text signed by the operator's key, and each stored cosignature must verify with the
configured witness's key. Reads everything once, in position order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tlog import note
from tlog.checkpoint import Checkpoint as CheckpointText
from tlog.cosignature import verify_cosignature
from tlog.note import Verifier
from wallet.ledger.merkle import CompactRange, leaf_hash
from wallet.models import Checkpoint, Cosignature, NationalCheckpoint, NationalLogLeaf, School
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.national import school_checkpoint_text

__all__ = ["NationalAudit", "audit_national_log"]


@dataclass(frozen=True)
class NationalAudit:
    leaves: int
    heads: int
    cosignatures: int
    problem: str | None


def audit_national_log(session: Session, policy: WitnessPolicy, operator_keys: Mapping[str, bytes]) -> NationalAudit:
    heads = {h.tree_size: h for h in session.scalars(select(NationalCheckpoint))}
    verifiers = [Verifier.ed25519(policy.log_origin, k) for k in operator_keys.values()]
    witnesses = {w.name: w.verifier for w in policy.witnesses}
    frontier = CompactRange()
    checked = cosigned = 0

    def problem(text: str) -> NationalAudit:
        return NationalAudit(frontier.size, checked, cosigned, text)

    if 0 in heads:
        found = _check_head(session, heads[0], frontier, verifiers, witnesses)
        if found:
            return problem(found)
        checked += 1
    rows = session.execute(
        select(NationalLogLeaf.position, NationalLogLeaf.leaf_hash, Checkpoint, School.bin)
        .join(Checkpoint, Checkpoint.id == NationalLogLeaf.checkpoint_id)
        .join(School, School.id == Checkpoint.school_id)
        .order_by(NationalLogLeaf.position))
    for position, stored, checkpoint, school_bin in rows:
        if position != frontier.size:
            return problem(f"national leaf {frontier.size} is missing (next is {position})")
        expected = leaf_hash(school_checkpoint_text(policy.log_origin, school_bin, checkpoint).encode())
        if bytes(stored) != expected:
            return problem(f"national leaf {position} (school {school_bin}, checkpoint {checkpoint.id}) does not "
                           "match the school checkpoint as stored now")
        frontier.append(expected)
        if frontier.size in heads:
            found = _check_head(session, heads[frontier.size], frontier, verifiers, witnesses)
            if found:
                return problem(found)
            checked += 1
            cosigned += len(_cosignatures(session, heads[frontier.size]))
    if checked != len(heads):
        return problem(f"a national head is larger than the log ({max(heads)} > {frontier.size} leaves)")
    return NationalAudit(frontier.size, checked, cosigned, None)


def _cosignatures(session: Session, head: NationalCheckpoint) -> list[Cosignature]:
    return list(session.scalars(select(Cosignature).where(Cosignature.national_checkpoint_id == head.id)))


def _check_head(session: Session, head: NationalCheckpoint, frontier: CompactRange, verifiers: list[Verifier],
                witnesses: Mapping[str, Verifier]) -> str | None:
    text = CheckpointText(verifiers[0].name if verifiers else "", frontier.size, frontier.root()).text()
    if bytes(head.root_hash) != frontier.root():
        return f"national head {head.tree_size}: its root is not that of its leaves"
    try:
        signed_text, _ = note.verify(head.note, verifiers)
    except note.NoteError as exc:
        return f"national head {head.tree_size}: {exc}"
    if signed_text != text:
        return f"national head {head.tree_size}: its note does not say its size and root"
    for cosignature in _cosignatures(session, head):
        verifier = witnesses.get(cosignature.witness_name)
        if verifier is None:
            continue  # a witness no longer configured: its line is kept, not counted
        try:
            _, (sig,) = note.split("x\n\n" + cosignature.line)
            verify_cosignature(text, sig, verifier)
        except (note.NoteError, ValueError):
            return f"national head {head.tree_size}: the cosignature of {cosignature.witness_name} does not verify"
    return None
