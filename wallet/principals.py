"""Who is calling, as plain data the domain can check scopes against (tokens are the web layer's job), and
the one place where an identity provider's claims become such a caller.

Claims are read strictly and fail closed: the web layer has checked the token's signature, issuer, audience
and times; this module checks that the claims that say who the caller is and what they may see have the
JSON type and shape the service can use. A claim it cannot use is refused, never read as "no limit":

- `sub` and `role` say *who* is calling. Missing where required, of another JSON type, empty, too long or
  with control characters: the token names nobody the service can record (`IdentityClaimError`, a 401).
- `region` / `national`, `school` and `supplier` say *what* a staff member may see. Missing, empty or
  malformed: the caller is known but holds no usable grant (`ScopeClaimError`, a 403).

National scope is the `operator` role, or an auditor's explicit `"national": true`; an auditor without a
usable `region` is never national.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from wallet.identifiers import IdentifierError, is_valid_iin, validate_bin

STAFF_ROLES = ("operator", "auditor", "school_admin", "supplier")
# A staff subject is stored in `role:subject` actor columns of 80 characters ("school_admin:" takes 13).
MAX_STAFF_SUBJECT_CHARS = 64
# Region codes as the registry and the API's `region` parameters know them (e.g. KZ-71).
REGION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str  # "parent" or one of STAFF_ROLES
    school_bin: str | None = None
    region_code: str | None = None
    supplier_bin: str | None = None
    national: bool = False  # an auditor whose token says so explicitly (operators are national by role)

    @property
    def actor(self) -> str:
        """How this caller is named in ledger entries: role and subject, never a parent's IIN in clear."""
        return f"{self.role}:{self.subject}"


class ClaimError(ValueError):
    """A claim of a verified token that the service cannot use; the message names the claim."""


class IdentityClaimError(ClaimError):
    """`sub` or `role` is unusable: the token does not say who is calling (HTTP 401)."""


class ScopeClaimError(ClaimError):
    """A staff member's scope claim is missing, empty or malformed: no grant to read by (HTTP 403)."""


def role_claim(claims: Mapping[str, object]) -> str | None:
    """The `role` claim: None when absent (a parent's token need not carry one), else a non-empty string."""
    if "role" not in claims:
        return None
    role = claims["role"]
    if not isinstance(role, str) or not role or len(role) > 32 or _has_control(role):
        raise IdentityClaimError("the token's role claim must be a short string")
    return role


def parent_principal(claims: Mapping[str, object]) -> Principal:
    """A parent: no role or role `parent`, and `sub` the parent's IIN."""
    if role_claim(claims) not in (None, "parent"):
        raise IdentityClaimError("a parent's token must carry no role or the role parent")
    subject = claims.get("sub")
    if not is_valid_iin(subject):
        raise IdentityClaimError("a parent's token must carry the parent's IIN as sub")
    assert isinstance(subject, str)
    return Principal(subject=subject, role="parent")


def staff_principal(claims: Mapping[str, object]) -> Principal:
    """A staff member of one of STAFF_ROLES with the scope claim of that role, checked the same way for all."""
    role = role_claim(claims)
    if role not in STAFF_ROLES:
        raise ScopeClaimError("this function is for staff roles only")
    subject = _staff_subject(claims.get("sub"))
    if role == "operator":
        return Principal(subject=subject, role=role)
    if role == "auditor":
        region, national = _auditor_scope(claims)
        return Principal(subject=subject, role=role, region_code=region, national=national)
    if role == "school_admin":
        return Principal(subject=subject, role=role, school_bin=_bin_claim(claims, "school"))
    return Principal(subject=subject, role=role, supplier_bin=_bin_claim(claims, "supplier"))


def _staff_subject(value: object) -> str:
    if (not isinstance(value, str) or not value.strip() or value != value.strip()
            or len(value) > MAX_STAFF_SUBJECT_CHARS or _has_control(value)):
        raise IdentityClaimError(
            f"a staff token's sub must be a string of 1-{MAX_STAFF_SUBJECT_CHARS} characters without control "
            "characters or surrounding spaces")
    return value


def _has_control(value: str) -> bool:
    """Control, format (bidirectional overrides), surrogate, private-use or unassigned characters."""
    return any(unicodedata.category(c).startswith("C") for c in value)


def _auditor_scope(claims: Mapping[str, object]) -> tuple[str | None, bool]:
    """(region code, national) of an auditor: exactly one of a region code or `"national": true`."""
    national = claims.get("national", False)
    if not isinstance(national, bool):
        raise ScopeClaimError("an auditor's national claim must be true or false")
    if "region" in claims:
        if national:
            raise ScopeClaimError("an auditor's token names a region and national scope; it must name one")
        region = claims["region"]
        if not isinstance(region, str) or not REGION_CODE.fullmatch(region):
            raise ScopeClaimError("an auditor's region claim must be a region code such as KZ-71")
        return region, False
    if not national:
        raise ScopeClaimError('an auditor\'s token must name a region, or national scope with "national": true')
    return None, True


def _bin_claim(claims: Mapping[str, object], name: str) -> str:
    value = claims.get(name)
    try:
        return validate_bin(value)
    except IdentifierError as exc:
        raise ScopeClaimError(f"the token's {name} claim must be a 12-digit BIN ({exc})") from exc
