"""A parent's receipt for one meal: checkable offline, without trusting the operator.

    {"format": "wallet-meal-receipt/v1",
     "entry":    a wallet-inclusion-proof/v1 document: the entry's hashed payload, its inclusion proof and the
                 signed school checkpoint (wallet/reconciliation/proofs.py),
     "national": {"leaf": that school checkpoint as a C2SP checkpoint text, "leafIndex", "treeSize",
                  "inclusionProof": [base64], "checkpoint": the national head's note, signed by the operator
                  and cosigned by the witnesses}}

The payload holds no name or IIN (hashed entries never do; an IIN-shaped reference would be masked and named
in `redacted`, as in every proof). `verify_receipt` checks every link: payload -> leaf -> school root (signed)
-> C2SP leaf -> national root (signed) -> k cosignatures of the witnesses the verifier trusts.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tlog import note
from tlog.checkpoint import parse_checkpoint
from tlog.cosignature import verify_cosignature
from tlog.note import Verifier
from tlog.proof import leaf_hash as tlog_leaf_hash
from tlog.proof import verify_inclusion
from wallet.errors import Conflict, NotFound
from wallet.ledger.merkle import inclusion_proof
from wallet.messages import T_
from wallet.models import Checkpoint, LedgerEntry, NationalCheckpoint, NationalLogLeaf, School
from wallet.reconciliation.proofs import INCLUSION_FORMAT, payload_for, signed_checkpoint, verify_document
from wallet.witness_settings import WitnessPolicy
from wallet.witnessing.collect import cosignatures_of, witnessed_head
from wallet.witnessing.national import latest_head, school_checkpoint_text

__all__ = ["RECEIPT_FORMAT", "describe_receipt", "meal_receipt", "receipts_verified", "verify_receipt"]

RECEIPT_FORMAT = "wallet-meal-receipt/v1"


def meal_receipt(session: Session, policy: WitnessPolicy, child_id: uuid.UUID, entry_id: int | None, *,
                 cache: dict | None = None) -> dict:
    """The receipt of one of the child's meals against the newest witnessed national head (the newest head
    when no witnesses are configured); NotFound for another child's entry, Conflict when no head covers it.
    `cache` (any dict kept across calls) shares the leaf hashes read between receipts of one page."""
    cache = {} if cache is None else cache
    entry = None
    if entry_id is not None:
        entry = session.scalars(select(LedgerEntry).where(
            LedgerEntry.id == entry_id, LedgerEntry.student_id == child_id, LedgerEntry.kind == "meal")).first()
    if entry is None:
        raise NotFound("meal_not_found", T_("No meal with this id was recorded for this child."))
    head = witnessed_head(session, policy) if policy.enabled else latest_head(session)
    found = None if head is None else session.execute(
        select(NationalLogLeaf.position, Checkpoint).join(Checkpoint, Checkpoint.id == NationalLogLeaf.checkpoint_id)
        .where(Checkpoint.school_id == entry.school_id, Checkpoint.tree_size >= entry.position,
               NationalLogLeaf.position < head.tree_size)
        .order_by(NationalLogLeaf.position.desc()).limit(1)).first()
    if head is None or found is None:
        raise Conflict("receipt_not_ready", T_("This meal is not yet under a witnessed checkpoint; try again later."))
    position, checkpoint = found
    school_bin = session.scalar(select(School.bin).where(School.id == entry.school_id))
    assert school_bin is not None
    return {"format": RECEIPT_FORMAT, "entry": _entry_document(session, entry, checkpoint, school_bin, cache),
            "national": _national_part(session, policy, head, position, checkpoint, school_bin, cache)}


def receipts_verified(session: Session, policy: WitnessPolicy, operator_keys: Mapping[str, bytes],
                      child_id: uuid.UUID, entry_ids: Sequence[int]) -> dict[int, bool]:
    """For the parent preview: does each meal's receipt verify now, with the configured witnesses?"""
    cache: dict = {}
    verifiers = [w.verifier for w in policy.witnesses]
    states = {}
    for entry_id in entry_ids:
        try:
            receipt = meal_receipt(session, policy, child_id, entry_id, cache=cache)
        except (Conflict, NotFound):
            states[entry_id] = False
            continue
        states[entry_id] = not verify_receipt(receipt, operator_keys, verifiers, policy.quorum)
    return states


def _entry_document(session: Session, entry: LedgerEntry, checkpoint: Checkpoint, school_bin: str,
                    cache: dict) -> dict:
    key = ("school", entry.school_id, checkpoint.tree_size)
    if key not in cache:
        cache[key] = [bytes(h) for (h,) in session.execute(
            select(LedgerEntry.leaf_hash).where(LedgerEntry.school_id == entry.school_id,
                                                LedgerEntry.position <= checkpoint.tree_size)
            .order_by(LedgerEntry.position))]
    leaves = cache[key]
    payload, redacted = payload_for(entry.payload, "parent", mask_iins=True)
    return {"format": INCLUSION_FORMAT, "entryId": entry.id, "schoolBin": school_bin, "leafIndex": entry.position - 1,
            "treeSize": checkpoint.tree_size, "payload": payload, "leafHash": bytes(entry.leaf_hash).hex(),
            "inclusionProof": [h.hex() for h in inclusion_proof(entry.position - 1, leaves)],
            "checkpoint": signed_checkpoint(checkpoint), **({"redacted": redacted} if redacted else {})}


def _national_part(session: Session, policy: WitnessPolicy, head: NationalCheckpoint, position: int,
                   checkpoint: Checkpoint, school_bin: str, cache: dict) -> dict:
    key = ("national", head.tree_size)
    if key not in cache:
        cache[key] = [bytes(h) for (h,) in session.execute(
            select(NationalLogLeaf.leaf_hash).where(NationalLogLeaf.position < head.tree_size)
            .order_by(NationalLogLeaf.position))]
    leaves = cache[key]
    names = {w.name for w in policy.witnesses}
    lines = [c.line for c in cosignatures_of(session, head) if c.witness_name in names]
    return {"leaf": school_checkpoint_text(policy.log_origin, school_bin, checkpoint), "leafIndex": position,
            "treeSize": head.tree_size,
            "inclusionProof": [base64.b64encode(h).decode() for h in inclusion_proof(position, leaves)],
            "checkpoint": head.note + "".join(lines)}


def verify_receipt(doc: Any, operator_keys: Mapping[str, bytes], witnesses: Sequence[Verifier],
                   quorum: int) -> list[str]:
    """Problems with a receipt (empty when it proves the meal is in a history k trusted witnesses cosigned)."""
    if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FORMAT or set(doc) != {"format", "entry",
                                                                                           "national"}:
        return [f"not a {RECEIPT_FORMAT} document"]
    problems = verify_document(doc["entry"], operator_keys)
    if problems:
        return [f"entry: {p}" for p in problems]
    part = doc["national"]
    if not isinstance(part, dict) or set(part) != {"leaf", "leafIndex", "treeSize", "inclusionProof", "checkpoint"}:
        return ["national: members differ from leaf, leafIndex, treeSize, inclusionProof, checkpoint"]
    try:
        text, _ = note.split(part["checkpoint"])
        head = parse_checkpoint(text)
        leaf = parse_checkpoint(part["leaf"])
        proof = [base64.b64decode(p, validate=True) for p in part["inclusionProof"]]
    except (note.NoteError, TypeError, AttributeError, binascii.Error, ValueError) as exc:
        return [f"national: malformed: {exc}"]
    entry_body = doc["entry"]["checkpoint"]["body"]
    expected = f"{head.origin}/school/{doc['entry']['schoolBin']}"
    if (leaf.origin, leaf.size, leaf.root_hash.hex()) != (expected, entry_body["treeSize"], entry_body["rootHash"]):
        problems.append("national: the leaf is not the entry's school checkpoint")
    if head.size != part["treeSize"] or not verify_inclusion(tlog_leaf_hash(part["leaf"].encode()),
                                                             part["leafIndex"], head.size, proof, head.root_hash):
        problems.append("national: the school checkpoint is not in the national head (inclusion proof fails)")
    log_keys = [Verifier.ed25519(head.origin, key) for key in operator_keys.values()]
    try:
        note.verify(part["checkpoint"], log_keys)
    except note.NoteError as exc:
        problems.append(f"national: the head's signature: {exc}")
    problems.extend(_cosignature_problems(part["checkpoint"], text, witnesses, quorum))
    return problems


def _cosignature_problems(signed: str, text: str, witnesses: Sequence[Verifier], quorum: int) -> list[str]:
    _, sigs = note.split(signed)
    good = set()
    for witness in witnesses:
        for sig in sigs:
            if witness.matches(sig):
                try:
                    verify_cosignature(text, sig, witness)
                except note.NoteError:
                    return [f"witness {witness.name}: its cosignature does not verify"]
                good.add(witness.name)
    if len(good) < quorum:
        return [f"cosigned by {len(good)} of the trusted witnesses, {quorum} needed"]
    return []


def describe_receipt(doc: dict) -> str:
    entry = doc["entry"]
    payload = json.loads(entry["payload"])
    return (f"OK meal entry {entry['entryId']} ({payload.get('mealType')}, {payload.get('servingDay')}) of school "
            f"{entry['schoolBin']} is leaf {entry['leafIndex']} of its chain, under national head of size "
            f"{doc['national']['treeSize']} cosigned by the trusted witnesses")
