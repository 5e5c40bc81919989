"""`wallet meal-sheet` and `wallet payment-registry`: exit 0 with the file, exit 2 with `wallet: why`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main as wallet_cli
from cli.context import EXIT_BAD_INPUT
from tests.api.test_reconciliation_exports import csv_sections, xlsx_parts
from tests.reconciliation_world import build_scenario


@pytest.fixture
def run(database_url: str, tmp_path: Path):
    def invoke(*args: str):
        env = {"WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test",
               "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(wallet_cli.cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def test_meal_sheet_files(run, scenario, tmp_path):
    w = scenario.world
    for fmt in ("csv", "xlsx", "json"):
        target = tmp_path / f"sheet.{fmt}"
        result = run("meal-sheet", "--month", scenario.month, "--school", w.school.bin, "--format", fmt,
                     "--out", str(target))
        assert result.exit_code == 0, result.output
        assert "wrote" in result.stderr and "15 meals" in result.stderr
    body = json.loads((tmp_path / "sheet.json").read_bytes())
    assert body["totals"]["amountTiyn"] == 15 * w.price["lunch"] and body["iin"] == "masked"
    assert dict(csv_sections((tmp_path / "sheet.csv").read_bytes())["meta"][1:])["school"] == w.school.bin
    assert "xl/workbook.xml" in xlsx_parts((tmp_path / "sheet.xlsx").read_bytes())
    one = tmp_path / "one.json"
    result = run("meal-sheet", "--month", scenario.month, "--school", w.school.bin, "--class", "2А", "--format",
                 "json", "--out", str(one), "--show-iin")
    assert result.exit_code == 0 and json.loads(one.read_bytes())["iin"] == "full"


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2026-13"], "is not a month"),
    (["--school", "999999999999"], "no school 999999999999"),
    (["--school", "12"], "12-digit BIN"),
    (["--class", ""], "class"),
])
def test_meal_sheet_bad_input(run, scenario, tmp_path, args, message):
    base = {"--month": scenario.month, "--school": scenario.world.school.bin}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    target = tmp_path / "x.csv"
    result = run("meal-sheet", *[p for kv in base.items() for p in kv], "--format", "csv", "--out", str(target))
    assert result.exit_code == EXIT_BAD_INPUT and message in result.stderr, result.output
    assert not target.exists()


def test_a_class_the_school_does_not_have_is_an_error_naming_its_classes(run, scenario, tmp_path):
    """A class typed with a Latin letter ("2A" for the roster's Cyrillic "2А") names no class: the command
    says which classes exist and which one was likely meant, and writes no file."""
    target = tmp_path / "x.json"
    args = ["--month", scenario.month, "--school", scenario.world.school.bin, "--format", "json", "--out",
            str(target)]
    latin = run("meal-sheet", *args, "--class", "2A")
    assert latin.exit_code == EXIT_BAD_INPUT, latin.output
    assert "has no class '2A'; did you mean 2А" in latin.stderr and "its classes: 2А" in latin.stderr
    unknown = run("meal-sheet", *args, "--class", "9Z")
    assert unknown.exit_code == EXIT_BAD_INPUT and "has no class '9Z'\n" in unknown.stderr
    assert "did you mean" not in unknown.stderr and "its classes: 2А" in unknown.stderr
    assert not target.exists()


def test_payment_registry_of_a_closed_month(run, scenario, tmp_path):
    w = scenario.world
    target = tmp_path / "registry.json"
    refused = run("payment-registry", "--month", scenario.month, "--region", w.region.code, "--format", "json",
                  "--out", str(target))
    assert refused.exit_code == EXIT_BAD_INPUT and "is not closed" in refused.stderr and not target.exists()
    assert run("close-period", "--month", scenario.month, "--region", w.region.code).exit_code == 0
    for fmt in ("json", "csv", "xlsx"):
        out = tmp_path / f"registry.{fmt}"
        result = run("payment-registry", "--month", scenario.month, "--region", w.region.code, "--format", fmt,
                     "--out", str(out))
        assert result.exit_code == 0, result.output
        assert f"due {15 * w.price['lunch']} tiyn" in result.stderr
    body = json.loads(target.read_bytes())
    assert body["totals"]["dueTiyn"] == 15 * w.price["lunch"] and body["closed"] is True
    unknown = run("payment-registry", "--month", scenario.month, "--region", "KZ-99", "--format", "csv", "--out",
                  str(tmp_path / "x.csv"))
    assert unknown.exit_code == EXIT_BAD_INPUT and "no region KZ-99" in unknown.stderr
