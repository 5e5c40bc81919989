"""The demo world loads through the importer on every backend, and loading it again changes nothing."""

import csv
import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from wallet.demo import generate
from wallet.importing import KINDS, import_file
from wallet.models import (
    CalendarDay,
    Contract,
    ContractPrice,
    Enrollment,
    GuardianLink,
    Menu,
    MenuDish,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
)

TODAY = dt.date(2026, 2, 10)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_demo_world_loads_and_reloads_unchanged(session_factory, tmp_path):
    files = generate(tmp_path, seed=2026, students=200, today=TODAY)
    rows = {kind: _rows(path) for kind, path in files.items()}
    assert set(files) == set(KINDS) - {"serving-windows", "attendance"}  # not in the demo files

    first = [import_file(session_factory, kind, files[kind]) for kind in files]
    assert all(r.created > 0 and r.updated == 0 for r in first), first

    assert _count(session_factory, Region) == 3
    assert _count(session_factory, School) == 8
    assert _count(session_factory, Supplier) == 3
    assert _count(session_factory, Contract) == 8
    assert _count(session_factory, ContractPrice) == len(rows["contracts"]) == 8 * 5  # lunch for each of 5 categories
    assert _count(session_factory, Student) == 200
    assert _count(session_factory, Enrollment) == 200
    assert _count(session_factory, StudentEligibility) == len(rows["eligibility"])
    assert _count(session_factory, GuardianLink) == len(rows["guardians"])
    assert _count(session_factory, CalendarDay) == len(rows["calendar"]) == 8 * (31 + 28)
    menus = {(r["school_bin"], r["date"], r["meal_type"]) for r in rows["menus"]}
    assert _count(session_factory, Menu) == len(menus)
    assert _count(session_factory, MenuDish) == len(rows["menus"])

    with session_factory() as session:
        closures = session.scalars(select(CalendarDay).where(CalendarDay.kind == "closure")).all()
        assert len(closures) == 1
        prices = session.scalars(select(ContractPrice.price_tiyn)).all()
        assert all(isinstance(p, int) and p > 0 for p in prices)

    again = [import_file(session_factory, kind, files[kind]) for kind in files]
    for report in again:
        assert (report.kind, report.created, report.updated) == (report.kind, 0, 0), report
        assert report.unchanged > 0


def test_a_new_generation_with_the_same_seed_changes_nothing(session_factory, tmp_path):
    for attempt in ("first", "second"):
        files = generate(tmp_path / attempt, seed=11, students=60, today=TODAY)
        reports = [import_file(session_factory, kind, files[kind]) for kind in files]
    assert [(r.created, r.updated) for r in reports] == [(0, 0)] * len(files)


def test_demo_data_command_twice_changes_nothing_the_second_time(database_url, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    args = ["demo-data", "--students", "40", "--seed", "5", "--today", "2025-10-15"]
    first = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "csv")], env=env)
    assert first.exit_code == 0, first.output
    assert "students         40 rows: 40 created, 0 updated, 0 unchanged" in first.output
    assert (tmp_path / "csv" / "menus.csv").is_file()
    second = CliRunner().invoke(cli, args, env=env)
    assert second.exit_code == 0, second.output
    lines = [line for line in second.output.splitlines() if " rows: " in line]
    assert len(lines) == len(KINDS) - 2  # every kind but serving windows and attendance
    assert all(" 0 created, 0 updated, " in line for line in lines)
