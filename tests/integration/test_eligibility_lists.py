"""Monthly eligibility lists and the registry feed: `wallet import eligibility-list|eligibility-feed`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.context import EXIT_BAD_INPUT
from cli.imports import import_command
from tests.factories import an_iin
from wallet.models import (
    ClosedPeriod,
    EligibilityList,
    EligibilityListEntry,
    StudentEligibility,
    Voucher,
)
from wallet.months import Month

HEADER = "school_bin,month,iin,category\n"


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(kind: str, text: str, name: str = "list.csv"):  # type: ignore[no-untyped-def]
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        env = {"WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test", "WALLET_INSTANCE_PATH": str(tmp_path)}
        return CliRunner().invoke(import_command, [kind, str(path)], env=env)

    return invoke


def _rows(world, month: Month, pupils, category: str = "primary_grades") -> str:  # type: ignore[no-untyped-def]
    return HEADER + "".join(f"{world.school.bin},{month},{p.iin},{category}\n" for p in pupils)


def _spans(session, student):  # type: ignore[no-untyped-def]
    return [(s.category_code, s.valid_from, s.valid_to) for s in session.scalars(
        select(StudentEligibility).where(StudentEligibility.student_id == student.id)
        .order_by(StudentEligibility.valid_from, StudentEligibility.category_code))]


def test_a_list_sets_the_months_spans_and_offers(run, world, session_factory) -> None:
    month = Month.of(world.today)
    keep, drop = world.eligible[:3], world.eligible[3:]
    newly = world.not_eligible
    text = _rows(world, month, keep) + f"{world.school.bin},{month},{newly.iin},orphan\n"
    result = run("eligibility-list", text)
    assert result.exit_code == 0, result.output
    assert f"for {month}: 4 pupils; since no earlier list: 4 added" in result.stdout
    with session_factory() as session:
        year_start = world.contract.valid_from
        # listed on the ground they had: the year-long span is kept as it is
        assert _spans(session, keep[0]) == [("primary_grades", year_start, world.contract.valid_to)]
        # not listed: the span now ends the day before the month
        assert _spans(session, drop[0]) == [("primary_grades", year_start, month.first_day - dt.timedelta(days=1))]
        assert _spans(session, newly) == [("orphan", month.first_day, month.last_day)]
        stored = session.scalars(select(EligibilityList)).one()
        assert stored.month == str(month) and stored.submitted_by == "cli"
        assert session.scalar(select(func.count()).select_from(EligibilityListEntry)) == 4
        offered = {v.student_id: v.category_code for v in session.scalars(
            select(Voucher).where(Voucher.school_id == world.school.id))}
        assert set(offered) == {p.id for p in keep} | {newly.id}
        assert offered[newly.id] == "orphan"


def test_next_months_list_shows_its_differences(run, world, session_factory) -> None:
    this = Month.of(world.today)
    first = _rows(world, this, world.eligible[:3])
    assert run("eligibility-list", first).exit_code == 0
    second = (_rows(world, this.next(), world.eligible[1:3]) + f"{world.school.bin},{this.next()},"
              f"{world.eligible[3].iin},primary_grades\n").replace(
        f"{world.eligible[2].iin},primary_grades", f"{world.eligible[2].iin},orphan")
    result = run("eligibility-list", second)
    assert result.exit_code == 0, result.output
    assert f"since {this}: 1 added, 1 removed, 1 category changed" in result.stdout
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityList)) == 2


def test_resubmitting_a_month_replaces_its_list(run, world, session_factory) -> None:
    month = Month.of(world.today)
    assert run("eligibility-list", _rows(world, month, world.eligible[:3])).exit_code == 0
    assert run("eligibility-list", _rows(world, month, world.eligible[:2])).exit_code == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityListEntry)) == 2
        assert _spans(session, world.eligible[2])[-1][2] == month.first_day - dt.timedelta(days=1)


def test_every_bad_row_is_reported_and_nothing_written(run, world, session_factory) -> None:
    month = Month.of(world.today)
    stranger = an_iin(dt.date(2016, 5, 5))
    text = (HEADER
            + f"{world.school.bin},{month},{world.eligible[0].iin},primary_grades\n"  # line 2: fine
            + f"{world.school.bin},{month},123456789012,primary_grades\n"  # 3: bad IIN
            + f"{world.school.bin},{month},{world.elsewhere.iin},primary_grades\n"  # 4: another school's pupil
            + f"{world.school.bin},{month},{world.eligible[1].iin},astronauts\n"  # 5: unknown category
            + f"{world.school.bin},{month},{world.eligible[0].iin},primary_grades\n"  # 6: duplicate
            + f"{world.school.bin},{month},{stranger},primary_grades\n"  # 7: nobody
            + f"{world.school.bin},2026-13,{world.eligible[2].iin},primary_grades\n")  # 8: not a month
    result = run("eligibility-list", text)
    assert result.exit_code == EXIT_BAD_INPUT
    lines = result.stderr.splitlines()
    for number, words in ((3, "iin"), (4, "not enrolled at school"), (5, "unknown eligibility category"),
                          (6, "already listed at line 2"), (8, "month")):
        assert any(f"list.csv:{number}: " in line and words in line for line in lines), (number, result.stderr)
    assert lines[-1].endswith("nothing was imported")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EligibilityList)) == 0
        assert session.scalar(select(func.count()).select_from(Voucher)) == 0


def test_database_checks_report_every_row(run, world) -> None:
    month = Month.of(world.today)
    stranger = an_iin(dt.date(2016, 5, 5))
    text = (_rows(world, month, world.eligible[:1]) + f"{world.school.bin},{month},{world.elsewhere.iin},orphan\n"
            + f"{world.school.bin},{month},{stranger},primary_grades\n"
            + f"{world.school.bin},{month},{world.eligible[1].iin},astronauts\n")
    result = run("eligibility-list", text)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "list.csv:3: iin: this pupil is not enrolled at school" in result.stderr
    assert "list.csv:4: iin: no pupil with this IIN" in result.stderr
    assert "list.csv:5: category: unknown eligibility category 'astronauts'" in result.stderr


@pytest.mark.parametrize("months_away", [-2, 2, 14])
def test_a_month_outside_the_window_is_refused(run, world, months_away: int) -> None:
    month = Month.of(world.today)
    for _ in range(abs(months_away)):
        month = month.next() if months_away > 0 else Month.of(month.first_day - dt.timedelta(days=1))
    result = run("eligibility-list", _rows(world, month, world.eligible[:1]))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "list.csv:2: month: " in result.stderr and "outside the months" in result.stderr


def test_a_closed_month_is_refused(run, world, session_factory) -> None:
    month = Month.of(world.today)
    with session_factory() as session:
        session.add(ClosedPeriod(region_id=world.region.id, month=str(month), closed_at=dt.datetime.now(dt.UTC),
                                 closed_by="operator:test"))
        session.commit()
    result = run("eligibility-list", _rows(world, month, world.eligible[:1]))
    assert result.exit_code == EXIT_BAD_INPUT and "is closed" in result.stderr


def test_mixed_schools_or_months_and_bad_files(run, world) -> None:
    month = Month.of(world.today)
    mixed = _rows(world, month, world.eligible[:1]) + f"{world.other_school.bin},{month},{world.elsewhere.iin},x\n"
    result = run("eligibility-list", mixed)
    assert result.exit_code == EXIT_BAD_INPUT and "list.csv:3: school_bin: every row must name" in result.stderr
    unknown = run("eligibility-list", HEADER + f"{'0' * 12},{month},{world.eligible[0].iin},primary_grades\n")
    assert unknown.exit_code == EXIT_BAD_INPUT
    for text in ("", HEADER, "iin;category\n1;2\n"):
        assert run("eligibility-list", text).exit_code == EXIT_BAD_INPUT
    binary = run("eligibility-list", "")
    assert "empty" in binary.stderr


def test_a_list_suspends_vouchers_of_pupils_it_drops(run, world, session_factory) -> None:
    from tests.voucher_factories import voucher_for

    month = Month.of(world.today)
    if month.first_day == world.today:  # the list ends spans the day before the month: yesterday
        pytest.skip("on the first of a month the dropped pupil is still entitled today")
    with session_factory() as session:
        kept = voucher_for(session, world.eligible[0], world.school.id, "active", today=world.today)
        dropped = voucher_for(session, world.eligible[4], world.school.id, "active", today=world.today)
    assert run("eligibility-list", _rows(world, month, world.eligible[:4])).exit_code == 0
    with session_factory() as session:
        assert session.get(Voucher, kept.id).status == "active"
        assert session.get(Voucher, dropped.id).status == "suspended"


# --- the registry feed ------------------------------------------------------------------------------------------


def _feed(*items: object) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def test_the_feed_adds_and_updates_spans_and_offers(run, world, session_factory) -> None:
    start, end = world.today - dt.timedelta(days=3), world.today + dt.timedelta(days=60)
    item = {"iin": world.not_eligible.iin, "category": "social_assistance", "valid_from": start.isoformat(),
            "valid_to": end.isoformat(), "source": "e-social"}
    first = run("eligibility-feed", _feed(item), "feed.jsonl")
    assert first.exit_code == 0, first.output
    # the jobs run for the pupil's school: every entitled pupil there without a voucher gets an offer
    assert "1 created, 0 updated, 0 unchanged; vouchers: 6 offered" in first.stdout
    ended = {**item, "valid_to": world.today.isoformat()}
    second = run("eligibility-feed", _feed(ended), "feed.jsonl")
    assert "0 created, 1 updated" in second.stdout
    with session_factory() as session:
        assert _spans(session, world.not_eligible) == [("social_assistance", start, world.today)]


def test_a_bad_feed_reports_every_line(run, world, session_factory) -> None:
    good = {"iin": world.not_eligible.iin, "category": "orphan", "valid_from": "2026-09-01",
            "valid_to": "2027-05-31", "source": "registry"}
    text = _feed(good, "{not json", [1, 2], {**good, "iin": "123"}, {**good, "category": "astronauts"},
                 {**good, "valid_to": "2026-08-01"}, {k: v for k, v in good.items() if k != "source"},
                 {**good, "extra": 1}, "", {**good, "iin": an_iin(dt.date(2016, 5, 5))}, good)
    result = run("eligibility-feed", text, "feed.jsonl")
    assert result.exit_code == EXIT_BAD_INPUT
    for number in (2, 3, 4, 6, 7, 8):
        assert f"feed.jsonl:{number}:" in result.stderr, (number, result.stderr)
    with session_factory() as session:
        assert _spans(session, world.not_eligible) == []
    db_errors = run("eligibility-feed", _feed(good, {**good, "category": "astronauts"},
                                              {**good, "iin": an_iin(dt.date(2016, 5, 5))}, good), "feed.jsonl")
    assert db_errors.exit_code == EXIT_BAD_INPUT
    for number in (2, 3, 4):
        assert f"feed.jsonl:{number}:" in db_errors.stderr, (number, db_errors.stderr)
    assert run("eligibility-feed", "", "feed.jsonl").exit_code == EXIT_BAD_INPUT
