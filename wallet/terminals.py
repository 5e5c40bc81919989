"""Canteen terminals: registration by an operator, revocation, used token ids and device sequence gaps."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import Conflict, FieldError, InvalidInput, NotFound
from wallet.models import LedgerEntry, School, Terminal, UsedTokenId

TERMINAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")


def decode_public_key(value: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64url (padding optional) or standard base64."""
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("invalid_public_key", "publicKey is not base64") from exc
    if len(raw) != 32:
        raise InvalidInput("invalid_public_key", "publicKey must be a raw 32-byte Ed25519 key")
    return raw


def encode_public_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def register_terminal(
    session: Session, *, school_bin: str, public_key: str, terminal_id: str | None = None,
    label: str | None = None, now: dt.datetime | None = None,
) -> Terminal:
    school = session.scalars(select(School).where(School.bin == school_bin)).one_or_none()
    if school is None:
        raise NotFound("school_not_found", f"no school with BIN {school_bin}")
    raw = decode_public_key(public_key)
    terminal_id = terminal_id or f"T-{secrets.token_hex(6)}"
    if not TERMINAL_ID.match(terminal_id):
        raise InvalidInput("validation_failed", "terminal id is not well formed",
                           [FieldError("terminalId", "3-64 letters, digits, '.', '_' or '-'")])
    terminal = Terminal(id=terminal_id, school_id=school.id, public_key=encode_public_key(raw),
                        status="active", label=label, created_at=now or dt.datetime.now(dt.UTC))
    session.add(terminal)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("terminal_exists", f"terminal {terminal_id} already exists") from exc
    return terminal


def get_terminal(session: Session, terminal_id: str) -> Terminal:
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise NotFound("terminal_not_found", f"no terminal {terminal_id}")
    return terminal


def revoke_terminal(session: Session, terminal_id: str, now: dt.datetime | None = None) -> Terminal:
    terminal = get_terminal(session, terminal_id)
    if terminal.status == "revoked":
        raise Conflict("terminal_already_revoked", f"terminal {terminal_id} is already revoked")
    terminal.status = "revoked"
    terminal.revoked_at = now or dt.datetime.now(dt.UTC)
    session.commit()
    return terminal


def list_terminals(session: Session, school_bin: str | None = None) -> list[tuple[Terminal, str]]:
    query = select(Terminal, School.bin).join(School, School.id == Terminal.school_id).order_by(Terminal.id)
    if school_bin:
        query = query.where(School.bin == school_bin)
    return [(t, b) for t, b in session.execute(query)]


def consume_token_id(session: Session, terminal_id: str, jti: str, expires_at: dt.datetime) -> bool:
    """Record a token id as used; False when it was used before (a replayed token). Commits."""
    session.add(UsedTokenId(jti=f"{terminal_id}:{jti}", terminal_id=terminal_id, expires_at=expires_at))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def purge_expired_token_ids(session: Session, now: dt.datetime) -> int:
    result = session.execute(delete(UsedTokenId).where(UsedTokenId.expires_at < now))
    session.commit()
    return result.rowcount or 0


def sequence_gaps(session: Session, terminal_id: str) -> tuple[int, list[tuple[int, int]]]:
    """The highest deviceSeq seen from a terminal and the missing runs (first, last) below it."""
    previous = func.lag(LedgerEntry.device_seq).over(order_by=LedgerEntry.device_seq)
    ordered = (
        select(LedgerEntry.device_seq.label("seq"), previous.label("prev"))
        .where(LedgerEntry.terminal_id == terminal_id, LedgerEntry.device_seq.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(ordered.c.seq, func.coalesce(ordered.c.prev, 0))
        .where(ordered.c.seq - func.coalesce(ordered.c.prev, 0) > 1)
        .order_by(ordered.c.seq)
    )
    gaps = [(prev + 1, seq - 1) for seq, prev in rows]
    highest = session.scalar(
        select(func.max(LedgerEntry.device_seq)).where(LedgerEntry.terminal_id == terminal_id)
    )
    return highest or 0, gaps
