"""The console's words, as msgids of the gettext catalogs (wallet/catalogs.py): Kazakh, Russian, English.
The language is the one picked in the console (kept in
the session), else the browser's Accept-Language (api/i18n.py's choice, Russian by default)."""

from __future__ import annotations

from flask import session

from api import i18n
from wallet import catalogs, code_names
from wallet.messages import N_, NC_, N_plural, Plural

LANGUAGES = i18n.LANGUAGES
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

# key: the English msgid; the translations are in wallet/translations/*/LC_MESSAGES/messages.po
_T: dict[str, str] = {
    "app": N_("Meal ledger console"),
    "skip": N_("Skip to content"),
    "language": N_("Language"),
    "apply": N_("Apply"),
    "sign_in": N_("Sign in"),
    "sign_out": N_("Sign out"),
    "signed_in_as": N_("Signed in as"),
    "token": N_("Identity-provider token"),
    "token_help": N_("Paste the token your identity provider issued (the same one the mobile app and the API use)."),
    "dev_sign_in": N_("Development sign-in"),
    "dev_help": N_("Only in development: a token from the local identity provider for a role or a demo parent."),
    "role": N_("Role"),
    "region": N_("Region"),
    "school": N_("School"),
    "schools": N_("Schools"),
    "supplier": N_("Supplier"),
    "parent": N_("Parent"),
    "demo_parent": N_("Demo parent"),
    "none": N_("—"),
    "session_expired": N_("Your session has ended. Sign in again; what you typed is kept."),
    "signed_out": N_("You have signed out."),
    "token_refused": N_("The token was refused"),
    "role_refused": N_("This token's role cannot use the console."),
    "required": N_("Required."),
    "home": N_("Home"),
    "school_view": N_("School"),
    "audit": N_("Reconciliation"),
    "ledger": N_("Ledger"),
    "parent_preview": N_("Parent preview"),
    "today": N_("Today"),
    "live": N_("Today's service, live"),
    "updated": N_("Updated"),
    "meal_type": N_("Meal"),
    "served": N_("Served"),
    "entitled": N_("Entitled children"),
    "refused": N_("Refused attempts"),
    "reason": N_("Reason"),
    "count": N_("Count"),
    "no_refusals": N_("No refused attempts."),
    "terminals": N_("Terminals"),
    "terminal": N_("Terminal"),
    "status": N_("Status"),
    "online": N_("online"),
    "offline": N_("offline"),
    "revoked": N_("revoked"),
    "last_contact": N_("Last contact"),
    "never": N_("never"),
    "seq_gaps": N_("Sequence gaps"),
    "allergen_warnings_confirmed": N_("Meals served after a confirmed allergen warning"),
    "backlog": N_("Not yet uploaded"),
    "backlog_flagged": N_("overdue"),
    "oldest_unsent": N_("oldest"),
    "nothing_unsent": N_("nothing"),
    "backlog_unknown": N_("not reported"),
    "silent_for": N_("silent for"),
    "days_short": N_("d"),
    "hours_short": N_("h"),
    "no_terminals": N_("No terminals registered."),
    "calendar": N_("Calendar"),
    # The calendar's weekday headers, Monday first (ISO weekday order, as the grid is laid out).
    "weekday_0": N_("Mon"),
    "weekday_1": N_("Tue"),
    "weekday_2": N_("Wed"),
    "weekday_3": N_("Thu"),
    "weekday_4": N_("Fri"),
    "weekday_5": N_("Sat"),
    "weekday_6": N_("Sun"),
    "menu": N_("Menu"),
    "no_menu": N_("No menu for this day."),
    "dish": N_("Dish"),
    "grams": N_("g"),
    "kcal": N_("kcal"),
    "allergens": N_("Allergens"),
    "allergen_warning": N_("Contains an allergen of this child"),
    "day": N_("Day"),
    "day_kind": N_("Kind of day"),
    "month": N_("Month"),
    "show": N_("Show"),
    "scope": N_("Scope"),
    "whole_scope": N_("everything I may see"),
    "totals": N_("Totals"),
    "meals": N_("Meals"),
    "net_meals": N_("Net meals"),
    "amount": N_("Amount, ₸"),
    "payable": N_("Payable, ₸"),
    "ceiling": N_("Ceiling"),
    "ratio": N_("Ratio to ceiling"),
    "voids": N_("Voids"),
    "late": N_("Late"),
    "per_day": N_("Meals per day against the ceiling"),
    "refusals_by_reason": N_("Refusals by reason"),
    "claims": N_("Supplier claims"),
    "claimed": N_("Claimed"),
    "in_ledger": N_("In the ledger"),
    "difference": N_("Difference"),
    "no_claims": N_("No supplier claims for this month."),
    "claim_differences": N_("Differences with claims"),
    "no_differences": N_("No differences."),
    "lines": N_("Lines"),
    "category": N_("Category"),
    "export": N_("Export"),
    "export_reconciliation": N_("Reconciliation"),
    "export_entries": N_("All entries"),
    "regions": N_("Regions"),
    "days": N_("Days"),
    "entries": N_("Entries"),
    "entry": N_("Entry"),
    "position": N_("Position"),
    "kind": N_("Kind"),
    "verdict": N_("Verdict"),
    "child": N_("Child"),
    "served_at": N_("Served at"),
    "received_at": N_("Received at"),
    "device_seq": N_("Device seq."),
    "proof": N_("Proof"),
    "verify": N_("Verify"),
    "verify_proof": N_("Verify the proof"),
    "proof_ok": N_("Verified: the entry is in the signed ledger."),
    "proof_redacted": N_("Some fields are masked for you, so only the entry's place in the ledger is proven, "
                         "not their values."),
    "proof_bad": N_("The proof does not verify."),
    "download_proof": N_("Download the proof (JSON)"),
    "checkpoint": N_("Checkpoint"),
    "checkpoints": N_("Latest signed checkpoints"),
    "tree_size": N_("Tree size"),
    "receipt_verified": N_("verified"),
    "receipt_verified_help": N_("The meal's receipt checks out: it is in the ledger that independent "
                                "witnesses cosigned."),
    "witnesses": N_("Independent witnesses"),
    "witnessed": N_("witnessed"),
    "not_witnessed": N_("not witnessed"),
    "witnesses_off": N_("No witnesses are configured."),
    "no_national_head": N_("The national log has no signed head yet."),
    "national_head": N_("National log head"),
    "cosigned_of": N_("cosigned"),
    "quorum": N_("quorum"),
    "witness_last": N_("Last answer"),
    "witness_cosigned": NC_("witness answer", "cosigned"),
    "witness_refused": N_("refused"),
    "witness_unreachable": N_("unreachable"),
    "witness_invalid": N_("invalid answer"),
    "witness_unknown": N_("never asked"),
    "root_hash": N_("Root hash"),
    "issued_at": N_("Signed at"),
    "signature": N_("Signature"),
    "valid": N_("valid"),
    "invalid": N_("INVALID"),
    "head_size": N_("Chain size"),
    "last_verification": N_("Last verification"),
    "not_verified": N_("not verified yet"),
    "run_ok": N_("OK"),
    "run_mismatch": N_("MISMATCH"),
    "run_error": N_("ERROR"),
    "via_cli": N_("command line"),
    "via_api": N_("API"),
    "via_console": N_("console"),
    "all_schools": N_("all schools"),
    "problem_elsewhere": N_("the first mismatch is in another school"),
    "problem_outside_scope": N_("in a school outside your scope"),
    "recent_runs": N_("Recent verification runs"),
    "no_runs": N_("No verification runs recorded yet."),
    "run_started": N_("Started"),
    "run_by": N_("Run by"),
    "run_scope": N_("Scope"),
    "run_chains": N_("Chains"),
    "run_entries": N_("Entries"),
    "run_checkpoints": N_("Checkpoints"),
    "run_result": N_("Result"),
    "verify_chain": N_("Verify the chain"),
    "ok": N_("OK"),
    "failed": N_("FAILED"),
    "no_checkpoint": N_("no checkpoint yet"),
    "children": N_("Children"),
    "no_children": N_("No children are linked to you."),
    "consent_needed": N_("A free-meal voucher offer awaits your answer: accept it, with consent to processing "
                          "the child's data, to see the child's meals."),
    "class": N_("Class"),
    "todays_meals": N_("Today's meals"),
    "history": N_("History"),
    "no_history": N_("No meals recorded yet."),
    "feedback": N_("Feedback"),
    "leave_feedback": N_("Rate this meal"),
    "rating": N_("Rating (1-5)"),
    "tags": N_("What stood out"),
    "comment": N_("Comment"),
    "send": N_("Send"),
    "feedback_saved": N_("Thank you: your feedback is saved."),
    "your_feedback": N_("Your feedback"),
    "fix_errors": N_("Please correct the marked fields."),
    "not_billable": N_("not billable"),
    "billable": N_("billable"),
    "voided": N_("voided"),
    "error": N_("Something went wrong"),
    "error_400": N_("The request could not be used."),
    "error_403": N_("You may not open this page."),
    "error_404": N_("Nothing here (or not in your scope)."),
    "error_csrf": N_("The form had expired or did not come from this console. Please try again."),
    "error_500": N_("An internal error occurred; it has been logged."),
    "error_503": N_("The service is unavailable just now; try again shortly."),
    "back_home": N_("Back to the console"),
    "pick_school": N_("Pick a school"),
    "mobile_preview_note": N_("What the parent's mobile app shows, at phone width."),
    "access_logged": N_("Each view of a child's data is written to the access log."),
    "meals_total": N_("meals served today"),
    "drill_down": N_("Open"),
    # meal types, day kinds, statuses
    "breakfast": N_("Breakfast"),
    "lunch": N_("Lunch"),
    "snack": N_("Snack"),
    "no_day": N_("not in the calendar"),
    "not_yet": N_("not yet"),
    "not_serving_day": N_("not a serving day"),
    "not_eligible": N_("not eligible"),
    "meal": N_("meal"),
    "void": N_("void"),
    "adjustment": N_("adjustment"),
    "operator": N_("Operator"),
    "auditor": N_("Auditor"),
    "school_admin": N_("School administrator"),
    # checkpoint reasons (free text from the command line otherwise, shown as it is)
    "reason_periodic": N_("periodic"),
    "reason_proof": N_("for a proof"),
    # feedback tags
    "tasty": N_("tasty"),
    "hot_and_fresh": N_("hot and fresh"),
    "generous_portion": N_("generous portion"),
    "too_cold": N_("too cold"),
    "small_portion": N_("small portion"),
    "too_salty": N_("too salty"),
    "not_fresh": N_("not fresh"),
    "undercooked": N_("undercooked"),
    "child_did_not_eat": N_("my child did not eat"),
    # refusal reasons
    "unknown_student": N_("unknown student"),
    "not_enrolled": N_("not enrolled here"),
    "duplicate_meal": N_("second meal of the day"),
    "device_clock_out_of_bounds": N_("device clock out of bounds"),
    "period_closed": N_("period already closed"),
    "no_contract_price": N_("no contract price"),
    "qr_token_other_school": N_("QR code of another school"),
    "qr_token_other_meal_type": N_("QR code for another meal"),
    "qr_token_expired": N_("QR code expired"),
    "qr_token_reused": N_("QR code used again"),
    "voucher_not_active": N_("voucher not active"),
    "qr_token_other_student": N_("QR code of another pupil"),
    "outside_serving_window": N_("outside the serving window"),
    # findings (issue 16)
    "findings": N_("Findings"),
    "finding_rule": N_("Rule"),
    "no_findings": N_("No findings for this month."),
    "evidence": N_("Evidence"),
    "finding_open": N_("open: payment held"),
    "finding_upheld": N_("upheld: not paid"),
    "finding_dismissed": N_("dismissed: paid"),
    "ruling": N_("Ruling"),
    "rule_on": N_("Record the ruling"),
}


def language() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else i18n.language()


def t(key: str) -> str:
    """The console's text for `key` (a key of _T, or a data code of wallet/code_names.py) in the reader's
    language; an unknown key reads as itself, underscores as spaces."""
    message = _T.get(key) or code_names.CODES.get(key)
    if message is None:
        return key.replace("_", " ")
    return catalogs.translate(message, language())


# Counted words (ngettext: en one/other, ru one/few/many, kk one form for every number, the noun stays
# singular after a numeral).
_COUNTED: dict[str, Plural] = {
    "children": N_plural("%(num)d child", "%(num)d children"),
    "open_offers": N_plural("%(num)d open voucher offer", "%(num)d open voucher offers"),
    "active_vouchers": N_plural("%(num)d active voucher", "%(num)d active vouchers"),
}


def counted(n: int, key: str) -> str:
    """`n` and its word in the reader's language: "1 child", "3 ребёнка", "5 бала"."""
    return catalogs.translate_count(_COUNTED[key], n, language())


def sentence(message: str) -> str:
    """A problem's detail or a field's message (a marked sentence, wallet/messages.py) in the reader's language."""
    return catalogs.translate(message, language())


def word(key: str, lang: str) -> str:
    """The console's word for `key` in `lang` (not the session's), e.g. a reason code in an export."""
    message = _T.get(key) or code_names.CODES.get(key)
    return key.replace("_", " ") if message is None else catalogs.translate(message, lang)


def known(key: str) -> bool:
    return key in _T or key in code_names.CODES


def school_name(name_kk: str, name_ru: str) -> str:
    # Schools (and regions) carry Kazakh and Russian names only: English pages show the Russian one.
    return name_kk if language() == "kk" else name_ru


def dish_name(dish: object) -> str:
    lang = language()
    return str(getattr(dish, f"name_{lang}", None) or getattr(dish, "name_ru", ""))
