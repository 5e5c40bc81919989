"""Parents' meal receipts: fetched over the API, checked offline by `wallet verify-proof` with the witnesses'
keys; a receipt of an entry altered in the database fails; not ready before a witnessed head; other children
404."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli.main import cli
from tests.integration.test_ledger_verify import triggers_off
from tests.parent_factories import (  # noqa: F401
    assert_problem,
    meals_fixture,
    other_parent_fixture,
    parent_fixture,
)
from tests.witness_inprocess import InProcessWitnesses
from wallet.config import Settings
from wallet.db import transaction
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoints
from wallet.witnessing.collect import collect
from wallet.witnessing.national import extend_national_log, log_vkey
from wallet.witnessing.receipts import verify_receipt

ORIGIN = "meals.test/ledger"


@pytest.fixture
def witnesses(database_url, tmp_path):  # type: ignore[no-untyped-def]
    # The conftest's settings, made here too (the same development key under the same instance path), so
    # that `settings` below can depend on this fixture.
    base = Settings(environment="test", database_url=database_url, instance_path=tmp_path / "instance")
    return InProcessWitnesses(tmp_path / "witnesses", ORIGIN, log_vkey(ORIGIN, load_signing_key(base)))


@pytest.fixture
def settings(settings, witnesses):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, witness_policy=witnesses.policy)


def _witness(session_factory, settings, witnesses) -> None:  # type: ignore[no-untyped-def]
    key = load_signing_key(settings)
    make_checkpoints(session_factory, key)
    with transaction(session_factory) as session:
        extend_national_log(session, key, ORIGIN)
    assert collect(session_factory, settings.witness_policy, post=witnesses.post).witnessed


def _verify_cli(tmp_path, receipt, settings, *vkeys: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    key_path = tmp_path / "signing.pem"
    key_path.write_bytes(load_signing_key(settings).to_pem())
    args = ["verify-proof", str(path)] + [a for v in vkeys for a in ("--witness", v)] + ["--quorum", "2"]
    return CliRunner().invoke(cli, args, env={"WALLET_SIGNING_KEY": str(key_path), "WALLET_ENV": "test",
                                              "WALLET_INSTANCE_PATH": str(tmp_path / "i")})


def test_a_receipt_verifies_offline_and_an_altered_entry_fails(checked, parent, meals, settings, session_factory,
                                                               witnesses, engine, tmp_path):
    meal = meals.record(parent.child)
    url = parent.url(f"/meals/{meal['entryId']}/receipt")
    assert_problem(checked.get(url, headers=parent.headers("en")), 409, "receipt_not_ready")
    # Witnessing is apart from ingest: a checkpoint, the national head and 2 of 3 cosignatures later...
    witnesses.down = {"witness.test/w2"}
    _witness(session_factory, settings, witnesses)
    response = checked.get(url, headers=parent.headers("en"))
    assert response.status_code == 200, response.get_json()
    receipt = response.get_json()
    assert parent.child.iin not in json.dumps(receipt)  # no personal data
    vkeys = [c.cosigner.verifier.vkey() for c in witnesses.configs]
    result = _verify_cli(tmp_path, receipt, settings, *vkeys)
    assert result.exit_code == 0, result.output
    assert f"OK meal entry {meal['entryId']}" in result.output

    # Trusting only the witness that was down: 0 of the 2 needed.
    result = _verify_cli(tmp_path, receipt, settings, vkeys[2])
    assert result.exit_code == 1 and "cosigned by 0 of the trusted witnesses" in result.output

    # The database altered: the meal's payload says dinner now. Its receipt no longer verifies.
    with triggers_off(engine, "ledger_entries"), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET payload = replace(payload, '\"lunch\"', '\"dinner\"') "
                          "WHERE id = :id"), {"id": meal["entryId"]})
    altered = checked.get(url, headers=parent.headers("en")).get_json()
    result = _verify_cli(tmp_path, altered, settings, *vkeys)
    assert result.exit_code == 1, result.output
    assert "FAILED entry:" in result.output
    # And a receipt edited by hand (one proof hash flipped in the national part) fails too.
    edited = json.loads(json.dumps(receipt))
    edited["national"]["leaf"] = edited["national"]["leaf"].replace("\n1\n", "\n2\n")
    problems = verify_receipt(edited, {load_signing_key(settings).key_id: load_signing_key(settings).public_key_raw},
                              [c.cosigner.verifier for c in witnesses.configs], 2)
    assert any("not the entry's school checkpoint" in p for p in problems)


def test_another_childs_meal_is_404(checked, parent, other_parent, meals, settings, session_factory, witnesses):
    meal = meals.record(parent.child)
    _witness(session_factory, settings, witnesses)
    response = checked.get(other_parent.url(f"/meals/{meal['entryId']}/receipt"), headers=other_parent.headers())
    assert response.status_code == 404
    assert_problem(checked.get(parent.url("/meals/999999/receipt"), headers=parent.headers()), 404, "meal_not_found")
