"""How each table would be placed on a Citus cluster (docs/scaling.md): the one classification that
tests/unit/test_citus_layout.py checks against the models.

Distributed tables are sharded by `school_id`, so an append (entries, chain head, totals, outbox, keys)
touches one shard in one local transaction. Reference tables (the registries: small, read on every shard,
changed by imports) are copied to every node. Tables outside both carry no school_id; each has its placement
and the reason below.
"""

from __future__ import annotations

DISTRIBUTION_COLUMN = "school_id"

DISTRIBUTED_TABLES = frozenset({
    "ledger_entries", "checkpoints", "chain_heads", "ledger_day_totals", "ledger_child_month_totals",
    "parent_notifications", "meal_feedback", "complaints", "qr_token_uses", "period_close_checkpoints",
    "vouchers", "supplier_claim_lines", "attendance_marks", "ceiling_day_totals", "ceiling_stale_schools",
})

REFERENCE_TABLES = frozenset({
    "regions", "schools", "suppliers", "eligibility_categories", "contracts", "contract_prices", "students",
    "enrollments", "student_eligibility", "guardian_links", "calendar_days", "menus", "menu_dishes",
    "terminals", "enrollment_codes", "consent_texts", "closed_periods", "eligibility_lists",
    "eligibility_list_entries", "supplier_claims", "calendar_notices", "serving_windows",
})

# Tables without school_id: where they go under Citus, and why they are not distributed by school.
OUTSIDE_TABLES = {
    "child_access_log": "distributed by student_id: written and read per child, by parents of any school",
    "child_allergies": "distributed by student_id, colocated with child_access_log: a child's, not a school's",
    "meal_slots": "distributed by student_id: its key (a child's one billable meal per type and day) spans "
                  "schools; an append then writes a second shard (a 2PC transaction); adding school_id would "
                  "drop the rule for a child enrolled at two schools",
    "used_token_ids": "distributed by jti: a token id spans no school and lives minutes",
    "push_deliveries": "on the coordinator (a local table): one worker's queue, pruned",
    "console_sessions": "on the coordinator: staff sign-ins, a few hundred rows",
    "verification_runs": "on the coordinator: one row per verify run, school_id empty for a whole run",
    "complaint_history": "needs school_id (copied from its complaint) before it can be colocated with "
                         "complaints; until then distributed by complaint_id",
    "voucher_consents": "needs school_id (copied from its voucher) to be colocated with vouchers; until then "
                        "distributed by voucher_id",
    "voucher_transitions": "as voucher_consents: needs school_id first; until then distributed by voucher_id",
    # The review of evidence (issue 16): a few rows per school-month, read by a region's auditors across its
    # schools, and a finding may span schools (one pupil billable at two on a day).
    "findings": "on the coordinator (a local table): a finding may concern two schools; few rows per month",
    "finding_entries": "on the coordinator, with its findings (the entry ids it names are school-scoped)",
    "finding_rulings": "on the coordinator, with its findings: one ruling per finding",
    "meal_disputes": "on the coordinator, with the findings they open: one per disputed meal, few",
    # The national log that witnesses cosign (issue 17): one log for the country, not per school.
    "national_log_leaves": "on the coordinator: the national log, one leaf per school checkpoint collected",
    "national_checkpoints": "on the coordinator: the national log's signed heads, one per collection",
    "cosignatures": "on the coordinator: witnesses' cosignatures of the national heads",
    "witness_outcomes": "on the coordinator: each witness's last answer, one row per witness",
}

# Unique keys of distributed tables that lack school_id in the models (SQLite's shape), and how they hold
# school_id on PostgreSQL or under Citus. A surrogate `id` from a sequence is always widened to
# (school_id, id) under Citus (the sequence keeps it unique): those need no line here.
KEYS_WITHOUT_SCHOOL = {
    ("ledger_entries", ("event_id",)): "ledger_entry_keys (school_id, event_id) on PostgreSQL (0020)",
    ("ledger_entries", ("refers_to",)): "ledger_entry_keys (school_id, refers_to) on PostgreSQL (0020)",
    ("ledger_entries", ("terminal_id", "device_seq")):
        "ledger_entry_keys (school_id, terminal_id, device_seq) on PostgreSQL (0020)",
    ("complaints", ("entry_id",)): "(school_id, entry_id) under Citus: an entry belongs to one school",
    ("meal_feedback", ("entry_id", "version")): "(school_id, entry_id, version) under Citus, as complaints",
    ("qr_token_uses", ("token_id",)): "(school_id, token_id) under Citus: a token is signed for one school",
    ("attendance_marks", ("student_id", "day")):
        "(school_id, student_id, day) under Citus: a school's class journal marks its own pupils",
}
SURROGATE_KEY = ("id",)
