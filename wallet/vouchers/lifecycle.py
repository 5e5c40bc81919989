"""The voucher lifecycle as plain data: which status may follow which, and why.

offered -> accepted (a guardian consents) or declined; accepted -> active when its validity begins (or
suspended, when eligibility was lost meanwhile); active <-> suspended (eligibility or enrollment lost, and
back); every live state -> expired at the end of the school year, or withdrawn (consent withdrawn by a
guardian). An unanswered offer lapses (offered -> expired) when its offer window closes. declined, expired
and withdrawn are final: a new school year brings a new voucher.
"""

from __future__ import annotations

from wallet.errors import Conflict
from wallet.models import VOUCHER_STATUSES

FINAL_STATUSES = ("declined", "expired", "withdrawn")
# A guardian has consented and not withdrawn: the child's data may be processed for meals.
CONSENTED_STATUSES = ("accepted", "active", "suspended")

# (from, to) -> the reasons that may move a voucher along that edge. Nothing else is allowed.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("offered", "accepted"): frozenset({"guardian_accepted"}),
    ("offered", "declined"): frozenset({"guardian_declined"}),
    ("offered", "expired"): frozenset({"offer_lapsed", "school_year_ended"}),
    ("accepted", "active"): frozenset({"validity_began"}),
    ("accepted", "suspended"): frozenset({"eligibility_lost", "enrollment_ended"}),
    ("accepted", "expired"): frozenset({"school_year_ended"}),
    ("accepted", "withdrawn"): frozenset({"consent_withdrawn"}),
    ("active", "suspended"): frozenset({"eligibility_lost", "enrollment_ended"}),
    ("active", "expired"): frozenset({"school_year_ended"}),
    ("active", "withdrawn"): frozenset({"consent_withdrawn"}),
    ("suspended", "active"): frozenset({"eligibility_restored"}),
    ("suspended", "expired"): frozenset({"school_year_ended"}),
    ("suspended", "withdrawn"): frozenset({"consent_withdrawn"}),
}
REASONS: frozenset[str] = frozenset().union(*TRANSITIONS.values())

assert all(a in VOUCHER_STATUSES and b in VOUCHER_STATUSES for a, b in TRANSITIONS)
assert not any(a in FINAL_STATUSES for a, _ in TRANSITIONS)


class TransitionNotAllowed(Conflict):
    """The voucher's current status does not allow this change (HTTP 409)."""


def allowed(from_status: str, to_status: str, reason: str) -> bool:
    return reason in TRANSITIONS.get((from_status, to_status), frozenset())


def check_transition(from_status: str, to_status: str, reason: str) -> None:
    """Raise TransitionNotAllowed (code `voucher_transition_not_allowed`) unless the edge and reason exist."""
    if not allowed(from_status, to_status, reason):
        raise TransitionNotAllowed(
            "voucher_transition_not_allowed",
            f"A voucher that is {from_status} cannot become {to_status} ({reason}).",
        )
