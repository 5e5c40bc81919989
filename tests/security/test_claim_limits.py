"""A refused supplier claim costs the time and memory of its first errors, not of its length: the errors
returned are capped at MAX_ERRORS and the parser stops reading there (counted through the row reader), for
every way a row can be wrong, in CSV and JSON; and a claim of more than MAX_LINES rows stops at MAX_LINES + 1.
"""

from __future__ import annotations

import tracemalloc

import pytest

from tests.factories import a_bin
from wallet.reconciliation import claims
from wallet.reconciliation.claims import MAX_ERRORS, MAX_LINES, ClaimRefused, parse_csv, parse_json

HEADER = "school_bin,day,meal_type,meals,amount_tiyn\n"
MIB = 1 << 20
GOOD_LINE = f"{a_bin(1)},2026-11-02,lunch,1,100\n"
BAD_LINES = {
    "empty cells": ",,,,\n",
    "wrong width": ",\n",
    "bad values": "x,y,z,-1,q\n",
    "spaces": "    ,   ,  ,  ,  \n",
}


@pytest.fixture
def rows_read(monkeypatch):
    """How many rows the claim parser took from the CSV reader."""
    count = {"rows": 0}
    real = getattr(claims, "_csv_items", None)

    def counting(text):
        for item in real(text):
            count["rows"] += 1
            yield item

    monkeypatch.setattr(claims, "_csv_items", counting, raising=False)
    return count


def _refused_with_peak(parse, claim):  # type: ignore[no-untyped-def]
    """The ClaimRefused that parsing `claim` raises, and the peak of memory traced while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(ClaimRefused) as refused:
            parse(claim)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return refused, peak


@pytest.mark.parametrize("kind", BAD_LINES)
def test_a_mebibyte_of_bad_csv_lines_stops_at_the_error_cap(kind, rows_read):
    line = BAD_LINES[kind]
    body = (HEADER + line * (MIB // len(line))).encode()
    refused, peak = _refused_with_peak(parse_csv, body)
    # The text of the body and its CSV reader, not one object per line: under 32 MiB for a 1 MiB body
    # (before the cap it was hundreds of MiB).
    assert peak < 32 * MIB, peak
    assert len(refused.value.field_errors) == MAX_ERRORS
    assert "checking stopped after" in refused.value.message
    assert rows_read["rows"] <= MAX_ERRORS  # stopped reading, far before the file's ~200,000 lines


def test_good_lines_before_the_bad_ones_are_not_kept_past_the_cap(rows_read):
    body = (HEADER + GOOD_LINE * 10 + ",,,,\n" * 100_000).encode()
    with pytest.raises(ClaimRefused) as refused:
        parse_csv(body)
    assert len(refused.value.field_errors) == MAX_ERRORS and rows_read["rows"] <= 10 + MAX_ERRORS


def test_a_claim_of_more_than_max_lines_stops_reading_at_max_lines(rows_read):
    body = (HEADER + GOOD_LINE * (MAX_LINES + 5000)).encode()
    with pytest.raises(claims.InvalidInput) as refused:
        parse_csv(body)
    assert refused.value.code == "claim_too_large" and rows_read["rows"] == MAX_LINES + 1


@pytest.mark.parametrize("item", [{}, None, {"schoolBin": 1, "day": 2, "mealType": 3, "meals": -1,
                                             "amountTiyn": "x", "extra": 1}])
def test_json_claims_stop_at_the_error_cap(item):
    document = {"lines": [item] * 50_000}
    refused, peak = _refused_with_peak(parse_json, document)
    assert peak < 8 * MIB, peak
    assert len(refused.value.field_errors) == MAX_ERRORS and "checking stopped after" in refused.value.message


def test_the_http_answer_carries_the_capped_errors(client, settings, session_factory, world):
    from api.auth import dev_idp

    token = dev_idp.issue_token(settings, "sup-1", {"role": "supplier", "supplier": world.supplier.bin})
    answer = client.post(f"/api/v1/auditor/claims?month={world.today:%Y-%m}", data=HEADER + ",,,,\n" * 200_000,
                         content_type="text/csv", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    assert len(answer.get_json()["errors"]) == MAX_ERRORS
