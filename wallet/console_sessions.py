"""The web console's sign-ins, on the server: opened at sign-in, found per request, ended at sign-out.

The browser gets a random id (256 bits) and nothing else about the sign-in; the table keeps its SHA-256, so
neither a copy of the table nor a log of queries gives a usable cookie. Expiry is the row's `expires_at`,
checked here on every lookup (a cookie kept past it finds nothing, whatever the browser does); expired rows
are deleted when found and at each sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session

from wallet.models import ConsoleSession
from wallet.models.console import MAX_PRINCIPAL_FIELD
from wallet.principals import Principal

ID_BYTES = 32
# A national auditor's row holds this in region_code: never a region code (wallet.principals.REGION_CODE
# refuses it), so national scope stays explicit in the table too, and a row without a region sees nothing.
NATIONAL_REGION = "*"


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()


def storable(principal: Principal) -> bool:
    """Whether the identity fits a row (bounded length, no control characters): else refuse the sign-in."""
    fields = (principal.role, principal.subject, principal.school_bin, principal.region_code,
              principal.supplier_bin)
    return all(value is None or (isinstance(value, str) and len(value) <= MAX_PRINCIPAL_FIELD
                                 and value.isprintable()) for value in fields)


def open_session(db: Session, principal: Principal, expires_at: dt.datetime, now: dt.datetime) -> str:
    """Store a new sign-in and return its id (for the cookie). Commits."""
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    session_id = secrets.token_urlsafe(ID_BYTES)
    db.add(ConsoleSession(id_hash=_hash(session_id), role=principal.role, subject=principal.subject,
                          school_bin=principal.school_bin,
                          region_code=NATIONAL_REGION if principal.national else principal.region_code,
                          supplier_bin=principal.supplier_bin, created_at=now, expires_at=expires_at))
    db.commit()
    return session_id


def find_session(db: Session, session_id: str, now: dt.datetime) -> Principal | None:
    """The identity of a live sign-in; None when the id is unknown, revoked or expired (an expired row is
    deleted, and committed)."""
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 100:
        return None
    row = db.get(ConsoleSession, _hash(session_id))
    if row is None:
        return None
    if row.expires_at <= now:
        db.delete(row)
        db.commit()
        return None
    national = row.region_code == NATIONAL_REGION
    return Principal(subject=row.subject, role=row.role, school_bin=row.school_bin,
                     region_code=None if national else row.region_code, supplier_bin=row.supplier_bin,
                     national=national)


def end_session(db: Session, session_id: str) -> None:
    """Revoke a sign-in (sign-out). Commits; an unknown id is no error."""
    if isinstance(session_id, str) and session_id:
        db.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == _hash(session_id)))
        db.commit()
