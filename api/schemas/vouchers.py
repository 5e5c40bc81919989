"""Voucher bodies and answers (camelCase, the reader's language). No IIN of a child is ever written; a
guardian's answer names them by "isYou" only. The eligibility ground appears only in the single-voucher
view (`ground`), never in lists."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema

from api.schemas.common import Text
from api.schemas.parents import iso
from wallet.identifiers import mask_iin
from wallet.models import ConsentText, EligibilityCategory
from wallet.vouchers.eligibility_lists import Change, ListView, Pupil
from wallet.vouchers.views import VoucherView


class AcceptBody(Schema):
    consent_text_version = Text(data_key="consentTextVersion", required=True, max_length=32)


class MonthQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    month = Text(required=True, max_length=20)


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


def _pupil_json(pupil: Pupil) -> dict[str, Any]:
    return {"iin": mask_iin(pupil.iin), "lastName": pupil.last_name, "firstName": pupil.first_name}


def _change_json(change: Change) -> dict[str, Any]:
    return {**_pupil_json(change.pupil), "category": change.category, "previousCategory": change.previous_category}


def eligibility_list_json(view: ListView, lang: str) -> dict[str, Any]:
    """A month's list with its differences from the previous list; IINs masked."""
    school = view.school
    report = view.vouchers
    return {
        "school": {"bin": school.bin, "name": school.name_kk if lang == "kk" else school.name_ru},
        "month": str(view.month),
        "submittedAt": iso(view.submitted_at),
        "previousMonth": str(view.previous_month) if view.previous_month else None,
        "pupils": [{**_pupil_json(p), "category": c} for p, c in view.entries],
        "changes": {"added": [_change_json(c) for c in view.added],
                    "removed": [_change_json(c) for c in view.removed],
                    "categoryChanged": [_change_json(c) for c in view.category_changed]},
        "vouchers": ({"offered": report.offered, "changed": dict(sorted(report.changed.items()))}
                     if report is not None else None),
    }
