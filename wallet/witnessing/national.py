"""The national log: one RFC 6962 tree whose leaf n is the C2SP checkpoint text of one school checkpoint.

Extending it appends every school checkpoint not yet in it (in id order), then signs the new head as a C2SP
checkpoint note with the operator's key under the log's origin. Witnesses then cosign that one head for
all schools. One writer at a time (an advisory lock on PostgreSQL; SQLite's write transactions are already
serial), so positions are gapless and a head is signed once per size.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tlog.checkpoint import Checkpoint as CheckpointText
from tlog.note import ED25519, Verifier, format_signature_line, join, key_id
from wallet.errors import NotFound
from wallet.ledger.merkle import CompactRange, leaf_hash
from wallet.ledger.signing import SigningKey
from wallet.messages import T_
from wallet.models import Checkpoint, NationalCheckpoint, NationalLogLeaf, School

__all__ = ["extend_national_log", "latest_head", "log_vkey", "school_checkpoint_note", "school_checkpoint_text",
           "school_origin", "sign_note"]

_LOCK_KEY = 0x5757_0017  # pg_advisory_xact_lock key of the national log's single writer


def school_origin(log_origin: str, school_bin: str) -> str:
    return f"{log_origin}/school/{school_bin}"


def school_checkpoint_text(log_origin: str, school_bin: str, checkpoint: Checkpoint) -> str:
    """A school checkpoint as a C2SP checkpoint text: what the national log holds as a leaf."""
    return CheckpointText(school_origin(log_origin, school_bin), checkpoint.tree_size,
                          bytes(checkpoint.root_hash)).text()


def sign_note(text: str, name: str, key: SigningKey) -> str:
    """A signed note over `text` with the operator's Ed25519 key under `name` (signature type 0x01).

    The same key signs the JSON checkpoint bodies; the two cannot be confused: canonical JSON has no
    newline, and a checkpoint text has at least three lines."""
    kid = key_id(name, ED25519, key.public_key_raw)
    return join(text, [format_signature_line(name, kid, key.sign(text.encode()))])


def log_vkey(name: str, key: SigningKey) -> str:
    """The verifier key a witness is given for the national log (`wallet-witness add-log --vkey`)."""
    return Verifier.ed25519(name, key.public_key_raw).vkey()


def school_checkpoint_note(session: Session, key: SigningKey, log_origin: str, school_bin: str) -> str:
    """The school's newest checkpoint (signed with `key`) as a C2SP checkpoint note under its own origin."""
    found = session.execute(
        select(Checkpoint).join(School, School.id == Checkpoint.school_id)
        .where(School.bin == school_bin, Checkpoint.key_id == key.key_id)
        .order_by(Checkpoint.tree_size.desc(), Checkpoint.id.desc()).limit(1)).scalar_one_or_none()
    if found is None:
        raise NotFound("no_checkpoint", T_("school %(school_bin)s has no signed checkpoint", school_bin=school_bin))
    return sign_note(school_checkpoint_text(log_origin, school_bin, found), school_origin(log_origin, school_bin), key)


def latest_head(session: Session) -> NationalCheckpoint | None:
    return session.scalars(select(NationalCheckpoint).order_by(NationalCheckpoint.tree_size.desc()).limit(1)).first()


def extend_national_log(session: Session, key: SigningKey, log_origin: str, *,
                        now: dt.datetime | None = None) -> NationalCheckpoint:
    """Append the school checkpoints not yet in the national log and sign its head; the caller commits.

    Returns the head at the new size (the existing one when nothing was added)."""
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    head = latest_head(session)
    frontier = CompactRange.from_bytes(head.frontier) if head else CompactRange()
    size = session.scalar(select(func.count()).select_from(NationalLogLeaf)) or 0
    if size != frontier.size:
        raise RuntimeError(f"national log has {size} leaves but its last head covers {frontier.size}")
    pending = session.execute(
        select(Checkpoint, School.bin).join(School, School.id == Checkpoint.school_id)
        .where(Checkpoint.id.not_in(select(NationalLogLeaf.checkpoint_id)))
        .order_by(Checkpoint.id)
    ).all()
    for checkpoint, school_bin in pending:
        leaf = leaf_hash(school_checkpoint_text(log_origin, school_bin, checkpoint).encode())
        session.add(NationalLogLeaf(position=frontier.size, checkpoint_id=checkpoint.id, leaf_hash=leaf, added_at=at))
        frontier.append(leaf)
    if head is not None and not pending:
        return head
    text_ = CheckpointText(log_origin, frontier.size, frontier.root()).text()
    new_head = NationalCheckpoint(tree_size=frontier.size, root_hash=frontier.root(), frontier=frontier.to_bytes(),
                                  note=sign_note(text_, log_origin, key), issued_at=at)
    session.add(new_head)
    session.flush()
    return new_head
