"""`wallet reconcile`, `export-entries`, `close-period`, `import-claim`, `public-key` and `verify-proof`:
exit 0 with the result, exit 2 with `wallet: why` on bad input, exit 1 for a proof that does not verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main as wallet_cli
from cli.context import EXIT_BAD_INPUT
from tests.api.test_reconciliation_exports import csv_sections, xlsx_parts
from tests.reconciliation_world import build_scenario
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoint
from wallet.models import SupplierClaim
from wallet.principals import Principal
from wallet.reconciliation.proofs import entry_proof, school_consistency

OPERATOR = Principal("op", "operator")


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


def test_reconcile_prints_a_report_or_writes_a_file(run, scenario, tmp_path):
    w = scenario.world
    text = run("reconcile", "--month", scenario.month, "--scope", f"region:{w.region.code}")
    assert text.exit_code == 0, text.output
    assert f"reconciliation {scenario.month}  scope region:{w.region.code}  open" in text.stdout
    assert "payable 12 750.00 KZT" in text.stdout and w.school.bin in text.stdout
    as_json = run("reconcile", "--month", scenario.month, "--format", "json")
    assert json.loads(as_json.stdout)["totals"]["netMeals"] == 15
    target = tmp_path / "out" / "rec.xlsx"
    written = run("reconcile", "--month", scenario.month, "--scope", f"school:{w.school.bin}", "--format", "xlsx",
                  "--output", str(target))
    assert written.exit_code == 0 and "wrote" in written.stderr
    assert "xl/workbook.xml" in xlsx_parts(target.read_bytes())
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind
    supplier = run("reconcile", "--month", scenario.month, "--scope", f"supplier:{w.supplier.bin}", "--format", "csv")
    meta = dict(csv_sections(supplier.stdout_bytes)["meta"][1:])
    assert meta["scope"] == f"all supplier:{w.supplier.bin}" and meta["iin"] == "masked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "is not a month"),
        (["--month", "2099-01"], "has not begun"),
        (["--month", "MONTH", "--scope", "county:1"], "is not a scope"),
        (["--month", "MONTH", "--scope", "region:KZ-00"], "no region KZ-00"),
        (["--month", "MONTH", "--scope", "school:123"], "12-digit BIN"),
        (["--month", "MONTH", "--format", "xlsx"], "needs --output"),
    ],
)
def test_reconcile_refuses_bad_input(run, scenario, args, message):
    result = run("reconcile", *[a.replace("MONTH", scenario.month) for a in args])
    assert result.exit_code == EXIT_BAD_INPUT and message in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_entries_streams_to_a_file_with_progress(run, scenario, tmp_path, fmt):
    target = tmp_path / f"entries.{fmt}"
    result = run("export-entries", "--month", scenario.month, "--format", fmt, "--output", str(target),
                 "--show-iin")
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.stderr and "20 entries" in result.stderr
    data = target.read_bytes()
    if fmt == "csv":
        assert len(csv_sections(data)["entries"]) == 21
    elif fmt == "json":
        body = json.loads(data)
        assert len(body["entries"]) == 20 and body["iin"] == "full"
    else:
        assert 'name="Записи"' in xlsx_parts(data)["xl/workbook.xml"]  # --lang ru by default


def test_export_of_an_empty_month_and_bad_input(run, scenario, tmp_path):
    empty = tmp_path / "empty.csv"
    result = run("export-entries", "--month", "2025-01", "--format", "csv", "--output", str(empty))
    assert result.exit_code == 0 and csv_sections(empty.read_bytes())["entries"] == [ENTRY_HEADER]
    bad = run("export-entries", "--month", "2025-1", "--format", "csv", "--output", str(tmp_path / "x.csv"))
    assert bad.exit_code == EXIT_BAD_INPUT and not (tmp_path / "x.csv").exists()


ENTRY_HEADER = ["entryId", "schoolBin", "position", "kind", "eventId", "terminalId", "deviceSeq", "studentRef",
                "studentId", "iin", "mealType", "method", "servedAt", "servingDay", "billingMonth", "receivedAt",
                "verdict", "reasons", "category", "contractId", "priceTiyn", "refersTo", "actor", "note", "leafHash"]


def test_close_period_once(run, scenario):
    region = scenario.world.region.code
    first = run("close-period", "--region", region, "--month", scenario.month)
    assert first.exit_code == 0, first.output
    assert f"closed {scenario.month} for region {region}: 2 school chains signed" in first.stdout
    again = run("close-period", "--region", region, "--month", scenario.month)
    assert again.exit_code == EXIT_BAD_INPUT and "already closed" in again.stderr
    unknown = run("close-period", "--region", "KZ-00", "--month", scenario.month)
    assert unknown.exit_code == EXIT_BAD_INPUT and "no region KZ-00" in unknown.stderr
    report = run("reconcile", "--month", scenario.month)
    assert "CLOSED" in report.stdout


def test_import_claim_lists_every_bad_line_and_stores_nothing(run, scenario, session_factory, tmp_path):
    w = scenario.world
    day = scenario.serving[0]
    bad = tmp_path / "claim.csv"
    bad.write_text("school_bin,day,meal_type,meals,amount_tiyn\n"
                   f"{w.school.bin},{day},lunch,4,340000\n"
                   f"{w.school.bin},{day},supper,4,340000\n"
                   f"{w.school.bin},{day},lunch,x,1\n", encoding="utf-8")
    result = run("import-claim", str(bad), "--supplier", w.supplier.bin, "--month", scenario.month)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "line 3: meal_type" in result.stderr and "line 4: meals" in result.stderr
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SupplierClaim)) == 0
    good = tmp_path / "claim.json"
    good.write_text(json.dumps({"lines": [{"schoolBin": w.school.bin, "day": str(day), "mealType": "lunch",
                                           "meals": 4, "amountTiyn": 340000}]}), encoding="utf-8")
    stored = run("import-claim", str(good), "--supplier", w.supplier.bin, "--month", scenario.month)
    assert stored.exit_code == 0 and "version 1, 1 lines, 4 meals, 3 400.00 KZT" in stored.stdout
    odd = tmp_path / "claim.txt"
    odd.write_text("x", encoding="utf-8")
    assert run("import-claim", str(odd), "--supplier", w.supplier.bin, "--month", scenario.month).exit_code == 2


def test_verify_proof_offline_with_the_public_key(run, scenario, session_factory, settings, tmp_path):
    public = run("public-key")
    assert public.exit_code == 0 and public.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "service.pub.pem"
    key_file.write_text(public.stdout, encoding="ascii")
    key = load_signing_key(settings)
    with session_factory() as session:
        proof = entry_proof(session, OPERATOR, scenario.meal_ids[4], key)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    ok = run("verify-proof", str(path), "--public-key", str(key_file))
    assert ok.exit_code == 0 and ok.stdout.startswith(f"OK entry {scenario.meal_ids[4]} is leaf 4")

    tampered = dict(proof, payload=proof["payload"].replace('"lunch"', '"snack"'))
    path.write_text(json.dumps(tampered), encoding="utf-8")
    failed = run("verify-proof", str(path), "--public-key", str(key_file))
    assert failed.exit_code == 1 and "FAILED leafHash" in failed.stderr
    path.write_text("{not json", encoding="utf-8")
    assert run("verify-proof", str(path), "--public-key", str(key_file)).exit_code == 1

    with session_factory() as session:
        scenario.recorder.meal(scenario.world.eligible[1], proof_time(scenario))
        make_checkpoint(session, scenario.world.school.id, key)
        session.commit()
        consistency = school_consistency(session, OPERATOR, scenario.world.school.bin, 20, 21)
    path.write_text(json.dumps(consistency), encoding="utf-8")
    assert run("verify-proof", str(path)).stdout.startswith("OK school")


def proof_time(scenario):
    from tests.reconciliation_world import local

    return local(scenario.serving[7], 12)
