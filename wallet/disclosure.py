"""What each reader may see of people: children's IINs (and IIN-shaped text) and staff subjects.

One rule for every output (API answers, exports, proofs, console pages), so a new output cannot pick its own.

- A child's IIN, and any stored text that looks like one (wallet.identifiers.looks_like_iin: a `studentRef`
  typed before ingest refused it, a void reason), is shown in full to IIN_READERS only, masked to the others.
- A staff member is named in entries and histories as `role:subject`; the subject (an identity-provider id,
  often the person's IIN) is shown to STAFF_SUBJECT_READERS only. Everyone else (suppliers, school
  administrators, parents) sees the role alone: who acted is the authority's business, what acted is not.
"""

from __future__ import annotations

from wallet.identifiers import mask_iin_like

IIN_READERS = ("operator", "auditor", "school_admin")
STAFF_SUBJECT_READERS = ("operator", "auditor")
_STAFF_ACTOR_ROLES = ("operator", "auditor", "school_admin", "supplier")


def may_read_iin(reader_role: str) -> bool:
    return reader_role in IIN_READERS


def may_read_staff_subject(reader_role: str) -> bool:
    return reader_role in STAFF_SUBJECT_READERS


def shown_text(text: str | None, *, show_iin: bool) -> str | None:
    """Stored text (a reference, a note) as a reader sees it: IIN-shaped runs masked unless entitled."""
    if text is None or show_iin:
        return text
    return mask_iin_like(text)


def shown_actor(actor: str | None, *, show_subject: bool) -> str | None:
    """A `role:subject` actor as a reader sees it: whole when entitled, else the role alone.

    Text that is not a staff actor (a parent's masked IIN in a complaint history) is masked as any text."""
    if actor is None or show_subject:
        return actor
    role, sep, _subject = actor.partition(":")
    if sep and role in _STAFF_ACTOR_ROLES:
        return role
    return mask_iin_like(actor)
