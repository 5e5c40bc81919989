"""Canteen terminals: registration by an operator, revocation, used token ids and device sequence gaps."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import Conflict, FieldError, InvalidInput, NotFound
from wallet.messages import T_
from wallet.models import EnrollmentCode, LedgerEntry, School, Terminal, UsedTokenId

TERMINAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}\Z")  # \Z: "$" would let a trailing line feed through


def decode_public_key(value: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64url (padding optional) or standard base64."""
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("invalid_public_key", T_("publicKey is not base64")) from exc
    if len(raw) != 32:
        raise InvalidInput("invalid_public_key", T_("publicKey must be a raw 32-byte Ed25519 key"))
    return raw


def encode_public_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def register_terminal(
    session: Session, *, school_bin: str, public_key: str, terminal_id: str | None = None,
    label: str | None = None, now: dt.datetime | None = None,
) -> Terminal:
    school = session.scalars(select(School).where(School.bin == school_bin)).one_or_none()
    if school is None:
        raise NotFound("school_not_found", T_("no school with BIN %(school_bin)s", school_bin=school_bin))
    raw = decode_public_key(public_key)
    terminal_id = terminal_id or f"T-{secrets.token_hex(6)}"
    if not TERMINAL_ID.match(terminal_id):
        raise InvalidInput("validation_failed", T_("terminal id is not well formed"),
                           [FieldError("terminalId", T_("3-64 letters, digits, '.', '_' or '-'"))])
    terminal = Terminal(id=terminal_id, school_id=school.id, public_key=encode_public_key(raw),
                        status="active", label=label, created_at=now or dt.datetime.now(dt.UTC))
    session.add(terminal)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("terminal_exists", T_("terminal %(terminal_id)s already exists",
                                             terminal_id=terminal_id)) from exc
    return terminal


def get_terminal(session: Session, terminal_id: str) -> Terminal:
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise NotFound("terminal_not_found", T_("no terminal %(terminal_id)s", terminal_id=terminal_id))
    return terminal


def revoke_terminal(session: Session, terminal_id: str, now: dt.datetime | None = None) -> Terminal:
    terminal = get_terminal(session, terminal_id)
    if terminal.status == "revoked":
        raise Conflict("terminal_already_revoked", T_("terminal %(terminal_id)s is already revoked",
                                                      terminal_id=terminal_id))
    terminal.status = "revoked"
    terminal.revoked_at = now or dt.datetime.now(dt.UTC)
    session.commit()
    return terminal


def list_terminals(session: Session, school_bin: str | None = None) -> list[tuple[Terminal, str]]:
    query = select(Terminal, School.bin).join(School, School.id == Terminal.school_id).order_by(Terminal.id)
    if school_bin:
        query = query.where(School.bin == school_bin)
    return [(t, b) for t, b in session.execute(query)]


def consume_token_id(session: Session, terminal_id: str, jti: str, expires_at: dt.datetime, *,
                     commit: bool = True) -> bool:
    """Record a token id as used; False when it was used before (a replayed token). Commits, unless `commit`
    is False: then the id is spent in the caller's transaction and stands only if the caller commits (the
    batch of meal events commits it with its entries: one commit a batch instead of two). A concurrent
    request with the same id waits on the unique key until this transaction ends, then finds it used."""
    if not commit:
        # The table's key: jti, and on PostgreSQL its partition column too (wallet.partitions.spec); a token
        # sent again carries the same jti and expiry, so it meets the same key either way.
        postgres = session.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        spent = session.execute(
            insert(UsedTokenId).values(jti=f"{terminal_id}:{jti}", terminal_id=terminal_id, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["jti", "expires_at"] if postgres else ["jti"])
            .returning(UsedTokenId.jti)
        ).first()
        return spent is not None
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


ENROLLMENT_CODE_LIFETIME = dt.timedelta(minutes=30)
# Crockford-style alphabet: no I, L, O, U, so a code read aloud or typed on a terminal is unambiguous.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code_hash(code: str) -> str:
    normalised = code.strip().upper().replace("-", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


def create_enrollment_code(session: Session, school_bin: str, now: dt.datetime | None = None,
                           lifetime: dt.timedelta = ENROLLMENT_CODE_LIFETIME) -> tuple[str, dt.datetime]:
    """A one-time code (shown once, kept only as a hash) that enrols one terminal for the school."""
    school = session.scalars(select(School).where(School.bin == school_bin)).one_or_none()
    if school is None:
        raise NotFound("school_not_found", T_("no school with BIN %(school_bin)s", school_bin=school_bin))
    now = now or dt.datetime.now(dt.UTC)
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    session.add(EnrollmentCode(code_hash=_code_hash(code), school_id=school.id, created_at=now,
                               expires_at=now + lifetime))
    session.commit()
    return code, now + lifetime


def enroll_with_code(session: Session, code: str, public_key: str, label: str | None = None,
                     now: dt.datetime | None = None) -> tuple[Terminal, str]:
    """Register a terminal's own public key with a one-time code; returns the terminal and school BIN."""
    now = now or dt.datetime.now(dt.UTC)
    raw_key = decode_public_key(public_key)
    found = session.scalars(
        select(EnrollmentCode).where(EnrollmentCode.code_hash == _code_hash(code)).with_for_update()
    ).one_or_none()
    if found is None or found.used_at is not None or found.expires_at <= now:
        # One answer for unknown, used and expired codes: a guesser learns nothing.
        raise InvalidInput("enrollment_code_invalid", T_("the enrollment code is unknown, used or expired"))
    school = session.get(School, found.school_id)
    assert school is not None
    terminal = Terminal(id=f"T-{secrets.token_hex(6)}", school_id=school.id, public_key=encode_public_key(raw_key),
                        status="active", label=label, created_at=now)
    session.add(terminal)
    found.used_at, found.terminal_id = now, terminal.id
    session.commit()
    return terminal, school.bin
