"""Attendance files (CSV and JSON lines) and rulings are checked whole: a bad row is reported by line and
nothing is written (issue 16, items 2 and 5)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from tests import evidence_world as ew
from wallet.errors import Forbidden, InvalidInput
from wallet.evidence.findings import Candidate, record
from wallet.evidence.rulings import RulingRequest, rule
from wallet.importing import ImportFailed, import_file
from wallet.models import AttendanceMark, Finding, FindingRuling
from wallet.principals import Principal


@pytest.fixture
def small(session_factory):
    return ew.build(session_factory, schools=2, pupils=3)


def _count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_attendance_in_both_formats_and_a_correction(session_factory, small, tmp_path) -> None:
    a = small.schools[0]
    pupil, day = small.pupils[a.id][0], small.days[0]
    csv_file = tmp_path / "journal.csv"
    csv_file.write_text(f"school_bin,iin,date,mark\n{a.bin},{pupil.iin},{day},late\n", encoding="utf-8")
    assert import_file(session_factory, "attendance", csv_file).created == 1
    jsonl = ew.write_jsonl(tmp_path / "journal.jsonl", [
        {"school_bin": a.bin, "iin": pupil.iin, "date": day.isoformat(), "mark": "absent"}])
    report = import_file(session_factory, "attendance", jsonl)
    assert (report.created, report.updated) == (0, 1)
    with session_factory() as session:
        assert session.scalars(select(AttendanceMark.mark)).all() == ["absent"]


def test_a_bad_attendance_file_writes_nothing(session_factory, small, tmp_path) -> None:
    a, b = small.schools
    good, other = small.pupils[a.id][0], small.pupils[b.id][0]
    day = small.days[0].isoformat()
    lines = [
        json.dumps({"school_bin": a.bin, "iin": good.iin, "date": day, "mark": "present"}),
        json.dumps({"school_bin": a.bin, "iin": other.iin, "date": day, "mark": "absent"}),  # not at A
        json.dumps({"school_bin": a.bin, "iin": good.iin, "date": "2026-13-01", "mark": "sleeping"}),
        "[1, 2]",
        json.dumps({"school_bin": a.bin, "iin": good.iin, "date": day, "mark": "absent", "extra": "x"}),
        json.dumps({"school_bin": a.bin, "iin": good.iin, "date": day, "mark": 1}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_file(session_factory, "attendance", path)
    where = {(e.line, e.column) for e in failed.value.errors}
    assert {(3, "date"), (3, "mark"), (4, ""), (5, "extra"), (6, "mark")} <= where
    assert _count(session_factory, AttendanceMark) == 0
    # The JSON lines' other problems fixed, the pupil of another school is still refused by line.
    path.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_file(session_factory, "attendance", path)
    assert [(e.line, e.column) for e in failed.value.errors] == [(2, "iin")]
    assert _count(session_factory, AttendanceMark) == 0


def _finding(session_factory, world, n: int) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        [f] = record(session, [Candidate("parent_dispute", f"k{n}", world.region.id, world.schools[0].id,
                                         world.days[0], {"day": "x"}, (n,))], source="parent",
                     now=dt.datetime.now(dt.UTC))
        session.commit()
        return f.id


def test_rulings_are_checked_whole(session_factory, small) -> None:
    first, second = _finding(session_factory, small, 1), _finding(session_factory, small, 2)
    auditor = Principal(subject="a1", role="auditor", region_code=small.region.code)
    elsewhere = Principal(subject="a2", role="auditor", region_code="KZ-11")
    now = dt.datetime.now(dt.UTC)
    bad = [RulingRequest(first, "upheld", "the journal shows absence"), RulingRequest(second, "maybe", ""),
           RulingRequest(999, "dismissed", "no such"), RulingRequest(first, "dismissed", "again")]
    with session_factory() as session, pytest.raises(InvalidInput) as refused:
        rule(session, auditor, bad, now)
    fields = {e.field for e in refused.value.field_errors}
    assert fields == {"items/1/outcome", "items/1/reason", "items/2/findingId", "items/3/findingId"}
    assert _count(session_factory, FindingRuling) == 0
    with session_factory() as session, pytest.raises(InvalidInput):
        rule(session, elsewhere, [RulingRequest(first, "upheld", "not my region")], now)  # out of scope: not found
    with session_factory() as session, pytest.raises(Forbidden):
        rule(session, Principal(subject="s", role="supplier", supplier_bin="x"), [], now)
    with session_factory() as session:
        rule(session, auditor, [RulingRequest(first, "upheld", "the journal shows absence"),
                                RulingRequest(second, "dismissed", "the pupil was there")], now)
        session.commit()
    with session_factory() as session, pytest.raises(InvalidInput) as again:
        rule(session, auditor, [RulingRequest(first, "dismissed", "changed my mind")], now)
    assert again.value.field_errors[0].code == "finding_already_ruled"
    assert _count(session_factory, FindingRuling) == 2 and _count(session_factory, Finding) == 2


def test_findings_and_rulings_are_append_only(session_factory, small) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    fid = _finding(session_factory, small, 3)
    for statement in ("UPDATE findings SET rule = 'x'", "DELETE FROM finding_entries", "DELETE FROM findings"):
        with session_factory() as session, pytest.raises(DBAPIError):
            session.execute(text(statement))
    with session_factory() as session:
        assert session.get(Finding, fid).rule == "parent_dispute"
