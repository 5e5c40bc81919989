"""Who is calling, as plain data the domain can check scopes against (tokens are the web layer's job)."""

from __future__ import annotations

from dataclasses import dataclass

STAFF_ROLES = ("operator", "auditor", "school_admin", "supplier")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str  # "parent" or one of STAFF_ROLES
    school_bin: str | None = None
    region_code: str | None = None
    supplier_bin: str | None = None

    @property
    def actor(self) -> str:
        """How this caller is named in ledger entries: role and subject, never a parent's IIN in clear."""
        return f"{self.role}:{self.subject}"
