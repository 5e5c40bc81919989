"""Sheet and column names of XLSX exports in the reader's language (kk, ru, en), for people who open the file
in a spreadsheet (the API by Accept-Language, the console by its language, the CLI by --lang; Russian by
default). CSV and JSON keep the stable English keys that programs read. Texts as elsewhere: an English msgid
per key, translated by the gettext catalogs (wallet/catalogs.py); a reason code or meal type reuses the
console's word for it (api/console/texts.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from babel import dates

from api import i18n
from api.console import texts
from wallet import catalogs
from wallet.messages import N_

# key: the English msgid. Sheet names are kept to 25 characters (a long table continues on "NAME (2)").
_L: dict[str, str] = {
    # sheets
    "meta": N_("About this file"),
    "totals": N_("Totals"),
    "lines": N_("Lines"),
    "adjustments": N_("Adjustments"),
    "days": N_("Days"),
    "sequenceGaps": N_("Sequence gaps"),
    "children": N_("Children"),
    "claims": N_("Claims"),
    "claimTotals": N_("Claim totals"),
    "claimDifferences": N_("Claim differences"),
    "checkpoints": N_("Checkpoints"),
    "entries": N_("Entries"),
    "classes": N_("Classes"),
    "pupils": N_("Pupils"),
    "suppliers": N_("Suppliers"),
    "contracts": N_("Contracts"),
    # the meta sheet: its two columns and its items
    "key": N_("Item"),
    "value": N_("Value"),
    "format": N_("File format"),
    "scope": N_("Scope"),
    "month": N_("Month"),
    "closed": N_("Month closed"),
    "closedAt": N_("Closed at"),
    "generatedAt": N_("Made at"),
    "checkpointsDigest": N_("Checkpoints digest"),
    "schools": N_("Schools"),
    "school": N_("School BIN"),
    "class": N_("Class"),
    "amounts": N_("Amounts"),
    "cells": N_("Cells"),
    "due": N_("Due"),
    # columns
    "actor": N_("By"),
    "heldMeals": N_("Meals held (open findings)"),
    "heldTiyn": N_("Held, ₸"),
    "withheldMeals": N_("Meals withheld (upheld findings)"),
    "withheldTiyn": N_("Withheld, ₸"),
    "paidTiyn": N_("To pay, ₸"),
    "cosignatures": N_("Cosignatures"),
    "witness": N_("Witness"),
    "line": N_("Signature line"),
    "timestamp": N_("Signed at (Unix time)"),
    "adjustmentAmountTiyn": N_("Adjustments, ₸"),
    "adjustmentMeals": N_("Adjusted meals"),
    "adjustmentVoids": N_("Adjusted voids"),
    "amountDifferenceTiyn": N_("Amount difference, ₸"),
    "amountTiyn": N_("Amount, ₸"),
    "anomaly": N_("Anomaly"),
    "attempts": N_("Attempts"),
    "billingMonth": N_("Billing month"),
    "category": N_("Category"),
    "ceiling": N_("Ceiling"),
    "ceilingRatio": N_("Share of ceiling"),
    "chainHash": N_("Chain hash"),
    "checkpointId": N_("Checkpoint"),
    "claimId": N_("Claim"),
    "claimedAmountTiyn": N_("Claimed, ₸"),
    "claimedMeals": N_("Claimed meals"),
    "className": N_("Class"),
    "contractId": N_("Contract id"),
    "contractNumber": N_("Contract"),
    "day": N_("Day"),
    "dayKind": N_("Kind of day"),
    "deviceSeq": N_("Device sequence"),
    "dueTiyn": N_("Due, ₸"),
    "entryId": N_("Entry"),
    "eventId": N_("Event id"),
    "firstMissing": N_("First missing"),
    "firstName": N_("First name"),
    "frozen": N_("Frozen"),
    "iin": N_("IIN"),
    "issuedAt": N_("Issued at"),
    "keyId": N_("Key"),
    "kind": N_("Kind"),
    "lastMissing": N_("Last missing"),
    "lastName": N_("Last name"),
    "late": N_("Late"),
    "lateBillable": N_("Late, billable"),
    "leafHash": N_("Leaf hash"),
    "ledgerAmountTiyn": N_("In the ledger, ₸"),
    "ledgerMeals": N_("Meals in the ledger"),
    "mealAmountTiyn": N_("Meals, ₸"),
    "mealType": N_("Meal"),
    "meals": N_("Meals"),
    "mealsDifference": N_("Meals difference"),
    "method": N_("Identified by"),
    "missing": N_("Missing"),
    "netAmountTiyn": N_("Net amount, ₸"),
    "netMeals": N_("Net meals"),
    "note": N_("Note"),
    "payableTiyn": N_("Payable, ₸"),
    "position": N_("Position"),
    "priceTiyn": N_("Price, ₸"),
    "reasons": N_("Reasons"),
    "receivedAt": N_("Received at"),
    "refersTo": N_("Refers to"),
    "refused": N_("Refused"),
    "rootHash": N_("Root hash"),
    "schoolBin": N_("School BIN"),
    "schoolName": N_("School"),
    "servedAt": N_("Served at"),
    "servingDay": N_("Serving day"),
    "servingMonth": N_("Serving month"),
    "signature": N_("Signature"),
    "studentId": N_("Pupil id"),
    "studentRef": N_("Pupil reference"),
    "submittedAt": N_("Submitted at"),
    "supplierBin": N_("Supplier BIN"),
    "supplierName": N_("Supplier"),
    "terminalId": N_("Terminal"),
    "treeSize": N_("Tree size"),
    "validFrom": N_("Valid from"),
    "validTo": N_("Valid to"),
    "verdict": N_("Verdict"),
    "version": N_("Version"),
    "voidAmountTiyn": N_("Voided, ₸"),
    "voids": N_("Voids"),
    "refusedBecause": N_("Refused: %(reason)s"),
}
_REFUSED = re.compile(r"refused([A-Z]\w*)")
_GRID = re.compile(r"(\d{4}-\d\d-\d\d) (\w+)")


# The key under which a labeller gives the spreadsheet number format of a date cell in its language
# (wallet/reconciliation/writers.py asks for it): CLDR's short date of the language, with a four-digit year.
DATE_FORMAT = "@dateFormat"


def _date_format(lang: str) -> str:
    pattern = dates.get_date_format("short", locale=lang if lang in catalogs.LANGUAGES else "ru").pattern
    pattern = re.sub(r"y+", "yyyy", pattern)
    return re.sub(r"M+", lambda m: "m" * len(m.group(0)), pattern)


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def labeller(lang: str) -> Callable[[str], str]:
    """Key -> the text people read in `lang`; an unknown key stays as it is (never an empty header)."""
    def label(key: str) -> str:
        if key == DATE_FORMAT:
            return _date_format(lang)
        if key in _L:
            return catalogs.translate(_L[key], lang)
        refused = _REFUSED.fullmatch(key)
        if refused:
            reason = texts.word(_snake(refused.group(1)), lang)
            return catalogs.translate(_L["refusedBecause"], lang) % {"reason": reason}
        grid = _GRID.fullmatch(key)
        if grid:  # a meal sheet's day x meal column
            return f"{grid.group(1)} {texts.word(grid.group(2), lang)}"
        return key

    return label


def xlsx_labels() -> Callable[[str], str]:
    """The labels for an API request's XLSX file: in the language Accept-Language picks (Russian by default)."""
    return labeller(i18n.language())


def known_keys() -> set[str]:
    return set(_L)
