"""Voucher bodies and answers (camelCase, the reader's language). No IIN of a child is ever written; a
guardian's answer names them by "isYou" only. The eligibility ground appears only in the single-voucher
view (`ground`), never in lists."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.schemas.parents import iso
from wallet.models import ConsentText, EligibilityCategory
from wallet.vouchers.views import VoucherView


class AcceptBody(Schema):
    consent_text_version = fields.String(data_key="consentTextVersion", required=True,
                                         validate=validate.Length(min=1, max=32))


def consent_text(text: ConsentText, lang: str) -> str:
    return {"kk": text.text_kk, "en": text.text_en}.get(lang, text.text_ru)


def _name(row: Any, lang: str) -> str:
    return {"kk": row.name_kk, "en": getattr(row, "name_en", row.name_ru)}.get(lang, row.name_ru)


def ground_json(category: EligibilityCategory | None, lang: str) -> dict[str, Any] | None:
    return {"name": _name(category, lang)} if category is not None else None


def voucher_json(view: VoucherView, lang: str, reader_iin: str, *, detail: bool = False) -> dict[str, Any]:
    v = view.voucher
    answer = view.last_answer
    body: dict[str, Any] = {
        "voucherId": str(v.id),
        "childId": str(v.student_id),
        "childFirstName": view.child_first_name,
        "school": {"bin": view.school_bin, "name": view.school_name_kk if lang == "kk" else view.school_name_ru},
        "schoolYear": v.school_year,
        "status": v.status,
        "validFrom": v.valid_from.isoformat(),
        "validTo": v.valid_to.isoformat(),
        "offeredAt": iso(v.offered_at),
        "offerExpiresAt": iso(v.offer_expires_at),
        "canAnswer": view.offer_open,
        "canWithdraw": view.can_withdraw,
        "consentText": {"version": view.consent_text.version, "text": consent_text(view.consent_text, lang)},
        "lastAnswer": ({"decision": answer.decision, "at": iso(answer.at), "consentTextVersion": answer.text_version,
                        "isYou": answer.parent_iin == reader_iin} if answer else None),
    }
    if detail:
        body["ground"] = ground_json(view.ground, lang)
    return body
