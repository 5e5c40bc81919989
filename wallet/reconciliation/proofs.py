"""Proof documents an outsider can check with nothing but the service's public key.

An inclusion proof shows that one ledger entry (its hashed payload, verbatim) is leaf `leafIndex` of the
Merkle tree whose root a signed checkpoint names. A consistency proof shows that a school's chain at one
signed checkpoint is a prefix of the chain at a later one: history was only appended to.

`verify_document` checks either kind offline: the checkpoint signatures (Ed25519 over RFC 8785 bytes), that
the payload is canonical and hashes to the leaf, and the RFC 6962/9162 proof itself. A proof made for a reader
who may not see a child's IIN or a staff subject carries the payload with those members masked and names them
in `redacted`: it then proves the leaf's place in the signed tree, not the masked members' values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.disclosure import may_read_iin, may_read_staff_subject, shown_actor, shown_text
from wallet.errors import FieldError, InvalidInput, NotFound
from wallet.ledger.canonical import NotCanonicalError, canonical_bytes
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion
from wallet.ledger.signing import SigningKey, verify_checkpoint
from wallet.messages import T_
from wallet.models import Checkpoint, LedgerEntry, School
from wallet.principals import Principal
from wallet.scope import school_in_scope, schools_in_scope

INCLUSION_FORMAT = "wallet-inclusion-proof/v1"
CONSISTENCY_FORMAT = "wallet-consistency-proof/v1"
_INCLUSION_KEYS = {"format", "entryId", "schoolBin", "leafIndex", "treeSize", "payload", "leafHash",
                   "inclusionProof", "checkpoint"}
_CONSISTENCY_KEYS = {"format", "schoolBin", "fromSize", "toSize", "consistencyProof", "from", "to"}


def signed_checkpoint(checkpoint: Checkpoint) -> dict[str, Any]:
    """A stored checkpoint as the signed JSON document that verify_checkpoint takes."""
    return {"body": json.loads(checkpoint.body), "signature": checkpoint.signature, "keyId": checkpoint.key_id}


def _leaf_hashes(session: Session, school_id: int, tree_size: int) -> list[bytes]:
    rows = session.execute(
        select(LedgerEntry.leaf_hash).where(LedgerEntry.school_id == school_id, LedgerEntry.position <= tree_size)
        .order_by(LedgerEntry.position),
        execution_options={"yield_per": 10_000},
    )
    return [bytes(h) for (h,) in rows]


def entry_proof(session: Session, principal: Principal, entry_id: int, key: SigningKey, *,
                tree_size: int | None = None, mask_iins: bool = False) -> dict[str, Any]:
    """The inclusion proof of an entry against a signed checkpoint of its school's chain.

    By default the newest checkpoint that covers the entry; when none does yet, one is signed now (and
    committed). With `tree_size`, the stored checkpoint of that size. The payload is shown as the reader may
    see it (payload_for); `mask_iins` masks IIN-shaped members even for IIN readers (the console's rule).
    """
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.id == entry_id,
                                  LedgerEntry.school_id.in_(schools_in_scope(principal)))
    ).one_or_none()
    if entry is None:
        raise NotFound("entry_not_found", T_("no entry %(entry_id)s in your scope", entry_id=entry_id))
    school = session.get(School, entry.school_id)
    assert school is not None
    if tree_size is not None:
        checkpoint = _checkpoint_at(session, school, tree_size)
        if tree_size < entry.position:
            raise InvalidInput("checkpoint_too_small", T_("the checkpoint of size %(tree_size)s does not cover entry "
                                                          "%(entry_id)s at position %(position)s",
                                                          tree_size=tree_size, entry_id=entry_id,
                                                          position=entry.position),
                               [FieldError("treeSize", T_("at least %(position)s", position=entry.position))])
    else:
        checkpoint = session.scalars(
            select(Checkpoint).where(Checkpoint.school_id == school.id, Checkpoint.tree_size >= entry.position,
                                     Checkpoint.key_id == key.key_id)
            .order_by(Checkpoint.tree_size.desc(), Checkpoint.id.desc()).limit(1)
        ).one_or_none()
        if checkpoint is None:
            checkpoint = make_checkpoint(session, school.id, key, reason="proof")
            session.commit()
    leaves = _leaf_hashes(session, school.id, checkpoint.tree_size)
    index = entry.position - 1
    payload, redacted = payload_for(entry.payload, principal.role, mask_iins=mask_iins)
    return {
        "format": INCLUSION_FORMAT,
        "entryId": entry.id,
        "schoolBin": school.bin,
        "leafIndex": index,
        "treeSize": checkpoint.tree_size,
        "payload": payload,
        "leafHash": bytes(entry.leaf_hash).hex(),
        "inclusionProof": [h.hex() for h in inclusion_proof(index, leaves)],
        "checkpoint": signed_checkpoint(checkpoint),
        **({"redacted": redacted} if redacted else {}),
    }


def payload_for(payload: str, reader_role: str, *, mask_iins: bool = False) -> tuple[str, list[str]]:
    """The hashed payload as this reader may see it, and the members masked for them (wallet.disclosure).

    A masked payload no longer hashes to the leaf: the document then names the masked members in `redacted`,
    and what it proves is the leaf's place in the signed tree, not those members' values."""
    show_iin, show_staff = may_read_iin(reader_role) and not mask_iins, may_read_staff_subject(reader_role)
    parsed = json.loads(payload)
    shown = {**parsed}
    for member in ("studentRef", "note"):
        if isinstance(parsed.get(member), str):
            shown[member] = shown_text(parsed[member], show_iin=show_iin)
    if isinstance(parsed.get("actor"), str):
        shown["actor"] = shown_actor(parsed["actor"], show_subject=show_staff)
    redacted = sorted(member for member in shown if shown[member] != parsed[member])
    if not redacted:
        return payload, []
    return canonical_bytes(shown).decode("utf-8"), redacted


def _checkpoint_at(session: Session, school: School, tree_size: int) -> Checkpoint:
    checkpoint = session.scalars(
        select(Checkpoint).where(Checkpoint.school_id == school.id, Checkpoint.tree_size == tree_size)
        .order_by(Checkpoint.id.desc()).limit(1)
    ).one_or_none()
    if checkpoint is None:
        raise NotFound("checkpoint_not_found", T_("school %(bin)s has no signed checkpoint of size %(tree_size)s",
                                                  bin=school.bin, tree_size=tree_size))
    return checkpoint


def school_consistency(session: Session, principal: Principal, school_bin: str, from_size: int,
                       to_size: int) -> dict[str, Any]:
    """The consistency proof between two signed checkpoints of a school's chain."""
    school = school_in_scope(session, principal, school_bin)
    if from_size > to_size:
        raise InvalidInput("validation_failed", T_("from must not be larger than to"),
                           [FieldError("query/from", T_("at most %(to_size)s", to_size=to_size))])
    old, new = _checkpoint_at(session, school, from_size), _checkpoint_at(session, school, to_size)
    leaves = _leaf_hashes(session, school.id, to_size)
    return {
        "format": CONSISTENCY_FORMAT,
        "schoolBin": school.bin,
        "fromSize": from_size,
        "toSize": to_size,
        "consistencyProof": [h.hex() for h in consistency_proof(from_size, leaves)],
        "from": signed_checkpoint(old),
        "to": signed_checkpoint(new),
    }


# --- offline verification ------------------------------------------------------------------------------


def verify_document(document: Any, public_keys: Mapping[str, bytes]) -> list[str]:
    """Problems found in a proof document (empty when it proves what it says). Never raises."""
    if not isinstance(document, dict):
        return ["the document is not a JSON object"]
    if document.get("format") == INCLUSION_FORMAT:
        return _verify_inclusion(document, public_keys)
    if document.get("format") == CONSISTENCY_FORMAT:
        return _verify_consistency(document, public_keys)
    return [f"unknown format {document.get('format')!r}; expected {INCLUSION_FORMAT} or {CONSISTENCY_FORMAT}"]


def _check_signed(label: str, signed: Any, school_bin: Any, tree_size: Any,
                  public_keys: Mapping[str, bytes]) -> tuple[list[str], bytes | None]:
    if not isinstance(signed, dict) or not isinstance(signed.get("body"), dict):
        return [f"{label}: not a signed checkpoint"], None
    key = public_keys.get(str(signed.get("keyId")))
    if key is None:
        return [f"{label}: signed by key {signed.get('keyId')!r}, which is not the key given"], None
    if not verify_checkpoint(signed, key):
        return [f"{label}: the signature does not verify"], None
    body = signed["body"]
    problems = []
    if body["chainId"] != school_bin:
        problems.append(f"{label}: signed for chain {body['chainId']!r}, not school {school_bin!r}")
    if body["treeSize"] != tree_size:
        problems.append(f"{label}: signed tree size {body['treeSize']}, the document says {tree_size!r}")
    return problems, bytes.fromhex(body["rootHash"])


def _hashes(value: Any) -> list[bytes] | None:
    if not isinstance(value, list):
        return None
    try:
        hashes = [bytes.fromhex(item) for item in value]
    except (TypeError, ValueError):
        return None
    return hashes if all(len(h) == 32 for h in hashes) else None


def redacted_members(document: Any) -> list[str]:
    """The payload members an inclusion proof masked for its reader (their values are not proven)."""
    redacted = document.get("redacted") if isinstance(document, dict) else None
    return [m for m in redacted if isinstance(m, str)] if isinstance(redacted, list) else []


def _verify_inclusion(doc: dict[str, Any], public_keys: Mapping[str, bytes]) -> list[str]:
    if set(doc) - {"redacted"} != _INCLUSION_KEYS:
        return [f"the document's members differ from {sorted(_INCLUSION_KEYS)} (and `redacted`)"]
    redacted = redacted_members(doc)
    if "redacted" in doc and (not redacted or len(redacted) != len(doc["redacted"])):
        return ["redacted: must be a non-empty list of payload member names"]
    problems, root = _check_signed("checkpoint", doc["checkpoint"], doc["schoolBin"], doc["treeSize"], public_keys)
    payload = doc["payload"]
    if not isinstance(payload, str):
        return [*problems, "payload: must be the entry's canonical JSON text"]
    try:
        parsed = json.loads(payload)
        canonical = canonical_bytes(parsed) == payload.encode("utf-8")
    except (ValueError, NotCanonicalError, UnicodeEncodeError):
        return [*problems, "payload: not valid JSON"]
    if not canonical:
        problems.append("payload: not in canonical (RFC 8785) form")
    leaf = leaf_hash(payload.encode("utf-8"))
    if redacted:  # masked members: the leaf is the hash given, and only its inclusion is proven
        if not isinstance(parsed, dict) or not set(redacted) <= set(parsed):
            problems.append("redacted: names members the payload does not have")
        hashes = _hashes([doc["leafHash"]])
        if hashes is None:
            return [*problems, "leafHash: must be a SHA-256 hash in hex"]
        leaf = hashes[0]
    elif doc["leafHash"] != leaf.hex():
        problems.append(f"leafHash: the payload hashes to {leaf.hex()}, not {doc['leafHash']}")
    index = doc["leafIndex"]
    if not isinstance(parsed, dict) or parsed.get("position") != (index + 1 if isinstance(index, int) else None):
        problems.append("payload: its position does not match leafIndex + 1")
    proof = _hashes(doc["inclusionProof"])
    if proof is None:
        problems.append("inclusionProof: must be a list of SHA-256 hashes in hex")
    elif root is not None and not verify_inclusion(leaf, index, doc["treeSize"], proof, root):
        problems.append("inclusionProof: does not lead from the entry's leaf to the signed root")
    return problems


def _verify_consistency(doc: dict[str, Any], public_keys: Mapping[str, bytes]) -> list[str]:
    if set(doc) != _CONSISTENCY_KEYS:
        return [f"the document's members differ from {sorted(_CONSISTENCY_KEYS)}"]
    problems, old_root = _check_signed("from", doc["from"], doc["schoolBin"], doc["fromSize"], public_keys)
    more, new_root = _check_signed("to", doc["to"], doc["schoolBin"], doc["toSize"], public_keys)
    problems += more
    proof = _hashes(doc["consistencyProof"])
    if proof is None:
        problems.append("consistencyProof: must be a list of SHA-256 hashes in hex")
    elif old_root is not None and new_root is not None and not verify_consistency(
        doc["fromSize"], doc["toSize"], old_root, new_root, proof
    ):
        problems.append("consistencyProof: the later tree does not extend the earlier one")
    return problems
