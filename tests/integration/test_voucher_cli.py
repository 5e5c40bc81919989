"""`wallet vouchers offer|sync|expire` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.context import EXIT_BAD_INPUT
from cli.vouchers import vouchers_group
from wallet.vouchers.years import school_year_of


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {"WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test", "WALLET_INSTANCE_PATH": str(tmp_path)}
        return CliRunner().invoke(vouchers_group, list(args), env=env)

    return invoke


def test_offer_sync_expire(run, world) -> None:  # type: ignore[no-untyped-def]
    year, today = school_year_of(world.today), world.today.isoformat()
    first = run("offer", "--school-year", year, "--today", today)
    assert first.exit_code == 0, first.output
    assert first.stdout == f"vouchers {year} on {today}: 6 offered\n"
    again = run("offer", "--school-year", year, "--today", today)
    assert again.stdout.endswith(": nothing to do\n")
    assert run("sync", "--school-year", year, "--today", today).exit_code == 0
    end = f"{int(year[5:])}-06-01"
    expired = run("expire", "--school-year", year, "--today", end)
    assert expired.exit_code == 0 and expired.stdout.endswith(": 6 offered->expired\n")


@pytest.mark.parametrize("year", ["2026-2028", "2026/2027", "x"])
def test_a_bad_school_year_exits_2(run, year: str) -> None:  # type: ignore[no-untyped-def]
    result = run("offer", "--school-year", year)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "not a school year" in result.stderr


def test_a_bad_date_is_a_usage_error(run) -> None:  # type: ignore[no-untyped-def]
    assert run("sync", "--today", "2026-13-01").exit_code == 2


def test_one_school_only_and_an_unknown_school(run, world) -> None:  # type: ignore[no-untyped-def]
    year, today = school_year_of(world.today), world.today.isoformat()
    other = run("offer", "--school-year", year, "--today", today, "--school", world.other_school.bin)
    assert other.exit_code == 0 and other.stdout.endswith(": 1 offered\n"), other.output
    unknown = run("sync", "--school", "000000000000")
    assert unknown.exit_code == EXIT_BAD_INPUT and "no school with BIN 000000000000" in unknown.stderr
