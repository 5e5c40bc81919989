"""The registry feed: bulk eligibility spans from state registries, one JSON object per line (JSONL).

    {"iin": "...", "category": "social_assistance", "valid_from": "2026-09-01", "valid_to": "2027-05-31",
     "source": "e-social"}

Spans are keyed, like the `eligibility` import, by IIN + category + valid_from: a new key adds a span,
a known one sets its valid_to (a registry ends a span by sending it again with an earlier end). The file
is checked whole (every bad line reported, nothing written); `source` names the registry and is checked,
not stored.
"""

from __future__ import annotations

from typing import Any

from wallet.importing.eligibility import EligibilityRecord
from wallet.importing.errors import ImportFailed, RowError
from wallet.importing.fields import parse_date, parse_iin, parse_text
from wallet.importing.jsonlines import json_lines

KEYS = ("iin", "category", "valid_from", "valid_to", "source")


def parse_feed(data: bytes) -> list[EligibilityRecord]:
    """Records of a JSONL feed; ImportFailed with every bad line (numbered from 1)."""
    errors: list[RowError] = []
    records: list[EligibilityRecord] = []
    for number, item in json_lines(data, errors, "feed"):
        record = _record(number, item, errors)
        if record is not None:
            records.append(record)
    if errors:
        raise ImportFailed(errors)
    return records


def _record(number: int, item: Any, errors: list[RowError]) -> EligibilityRecord | None:
    if not isinstance(item, dict):
        errors.append(RowError(number, "", "must be a JSON object"))
        return None
    found = [RowError(number, str(k), "unknown member") for k in sorted(set(item) - set(KEYS), key=str)]
    found += [RowError(number, k, "is required") for k in KEYS if k not in item]
    values: dict[str, Any] = {}
    parsers = {"iin": parse_iin, "category": lambda v: parse_text(v, 40), "valid_from": parse_date,
               "valid_to": parse_date, "source": lambda v: parse_text(v, 40)}
    for key, parse in parsers.items():
        if key not in item:
            continue
        value = item[key]
        try:
            if not isinstance(value, str) or not value.strip():
                raise ValueError("must be a non-empty string")
            values[key] = parse(value.strip())
        except ValueError as exc:
            found.append(RowError(number, key, str(exc)))
    if "valid_from" in values and "valid_to" in values and values["valid_from"] > values["valid_to"]:
        found.append(RowError(number, "valid_to", "is before valid_from"))
    errors += found
    if found:
        return None
    return EligibilityRecord(number, values["iin"], values["category"], values["valid_from"], values["valid_to"])
