"""The reader's language and the app's catalogs: Flask-Babel over wallet/translations (wallet/catalogs.py).

The language is, as before: on console pages the one picked in the console (kept in the session), else, like
every API answer, Accept-Language's best match among kk, ru, en (the eGov app sends it), Russian by default.
Problem titles are msgids marked here; their translations are in the .po files, not in this module.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel

from wallet import catalogs
from wallet.messages import N_, Plural

LANGUAGES = catalogs.LANGUAGES
DEFAULT_LANGUAGE = catalogs.DEFAULT_LANGUAGE

# Titles of problem codes; the `code` stays stable and English, the title follows the reader's language.
TITLES: dict[str, str] = {
    "bad_request": N_("Bad request"),
    "validation_failed": N_("Validation failed"),
    "malformed_json": N_("Malformed JSON"),
    "unsupported_media_type": N_("Unsupported media type"),
    "unauthorized": N_("Authentication required"),
    "forbidden": N_("Forbidden"),
    "not_found": N_("Not found"),
    "method_not_allowed": N_("Method not allowed"),
    "conflict": N_("Conflict"),
    "payload_too_large": N_("Payload too large"),
    "not_acceptable": N_("Not acceptable"),
    "not_ready": N_("Service not ready"),
    "database_unavailable": N_("Database unavailable"),
    "internal_error": N_("Internal error"),
    # Parents and feedback
    "invalid_token": N_("Invalid token"),
    "token_expired": N_("Token expired"),
    "child_not_found": N_("Child not found"),
    "meal_not_found": N_("Meal not found"),
    "feedback_not_found": N_("Feedback not found"),
    "school_not_found": N_("School not found"),
    "invalid_cursor": N_("Invalid cursor"),
    "range_too_long": N_("Date range too long"),
    "meal_not_served": N_("Meal not served"),
    "meal_voided": N_("Meal voided"),
    "feedback_locked": N_("Feedback can no longer be changed"),
    "feedback_window_closed": N_("Too late for feedback"),
    "feedback_conflict": N_("Feedback changed meanwhile"),
    "no_active_voucher": N_("No active free-meal voucher"),
    "idp_unavailable": N_("Identity provider unavailable"),
    # Vouchers and eligibility lists
    "voucher_not_found": N_("Voucher not found"),
    "consent_required": N_("Consent required"),
    "consent_text_outdated": N_("Consent text has changed"),
    "voucher_already_accepted": N_("Offer already accepted"),
    "voucher_declined": N_("Offer declined"),
    "voucher_withdrawn": N_("Consent withdrawn"),
    "voucher_not_accepted": N_("Offer not accepted"),
    "voucher_expired": N_("Voucher expired"),
    "offer_expired": N_("Offer expired"),
    "voucher_transition_not_allowed": N_("Voucher cannot change so"),
    "eligibility_list_invalid": N_("Eligibility list refused"),
    "eligibility_list_not_found": N_("Eligibility list not found"),
}


def language() -> str:
    """Accept-Language's best match (the API's choice)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT_LANGUAGE


def reader_language() -> str:
    """The console's pick (in the session) on console pages, else Accept-Language's."""
    if has_request_context() and (request.blueprint or "").startswith("console"):
        chosen = session.get("lang")
        if chosen in LANGUAGES:
            return str(chosen)
    return language()


def init_app(app: Flask) -> None:
    """Flask-Babel reads the compiled catalogs (compiled now when stale) and picks the reader's language."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(catalogs.directory())
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    Babel(app, locale_selector=reader_language)


def translate(message: str, lang: str | None = None) -> str:
    """A marked text (wallet/messages.py) in `lang`, by default the reader's."""
    return catalogs.translate(message, lang or reader_language())


def translate_count(message: Plural, n: int, lang: str | None = None) -> str:
    return catalogs.translate_count(message, n, lang or reader_language())


def title(code: str) -> str:
    text = TITLES.get(code)
    if text is None:
        return code.replace("_", " ").capitalize()
    return translate(text, language())

