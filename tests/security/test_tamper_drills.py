"""Tamper drills that tests/integration/test_ledger_verify.py does not already run (it covers: a changed price
column, a changed payload exposed by an earlier checkpoint, a deleted or swapped entry, a consistent rewrite
exposed only by an earlier checkpoint, a truncated tail, forged and altered checkpoints, a changed head).

Added here, from an outsider's point of view and for each thing a dishonest insider would change:
- proofs an auditor took before the change still verify for every other entry, and never for the changed one;
- a consistency proof from a checkpoint signed before the change cannot be made to verify;
- `wallet verify` names exactly the changed entry, whatever column was changed.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import cli
from tests.integration.test_ledger_verify import (
    BIN_A,
    N,
    _append,
    _build,
    _entry,
    _ids_by_position,
    _report,
    _rewrite_consistently,
    tamper,
)
from wallet.config import Settings
from wallet.db import transaction
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion
from wallet.ledger.signing import SigningKey, verify_checkpoint
from wallet.models import LedgerEntry


# The fixtures of tests/integration/test_ledger_verify.py, the same way.
@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def chain(session_factory) -> int:  # type: ignore[no-untyped-def]
    return _build(session_factory)


@pytest.fixture
def dev_key(tmp_path) -> SigningKey:  # type: ignore[no-untyped-def]
    return load_signing_key(Settings(environment="test", instance_path=tmp_path / "instance"))


@pytest.fixture
def run(database_url, tmp_path):  # type: ignore[no-untyped-def]
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
           "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    return lambda *args: CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _leaves(session_factory, school_id: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Leaf hashes recomputed from the stored payloads (what an outsider gets from an export), in order."""
    with session_factory() as session:
        payloads = session.scalars(select(LedgerEntry.payload).where(LedgerEntry.school_id == school_id)
                                   .order_by(LedgerEntry.position))
        return [leaf_hash(p.encode()) for p in payloads]


def _signed(session_factory, school_id: int, key) -> dict:  # type: ignore[no-untyped-def]
    """A checkpoint as an auditor keeps it: the signed body, checked once when it was taken."""
    with transaction(session_factory) as session:
        checkpoint = make_checkpoint(session, school_id, key)
        taken = {"body": checkpoint.body, "signature": checkpoint.signature, "keyId": checkpoint.key_id,
                 "treeSize": checkpoint.tree_size, "root": bytes(checkpoint.root_hash)}
    import json

    assert verify_checkpoint({"body": json.loads(taken["body"]), "signature": taken["signature"],
                              "keyId": taken["keyId"]}, key.public_key_raw)
    return taken


def test_proofs_taken_before_a_rewrite_still_prove_every_other_entry(session_factory, engine, chain, key):
    signed = _signed(session_factory, chain, key)
    leaves = _leaves(session_factory, chain)
    proofs = [inclusion_proof(i, leaves) for i in range(N)]  # what auditors took home
    changed = 5
    _rewrite_consistently(session_factory, engine, chain, position=changed, price=1)

    now = _leaves(session_factory, chain)
    for index in range(N):
        still = verify_inclusion(now[index], index, signed["treeSize"], proofs[index], signed["root"])
        assert still is (index != changed - 1), index
    # The service cannot make a new proof for the changed entry that the signed checkpoint accepts.
    fresh = inclusion_proof(changed - 1, now)
    assert not verify_inclusion(now[changed - 1], changed - 1, signed["treeSize"], fresh, signed["root"])
    assert verify_inclusion(now[changed - 1], changed - 1, N, fresh, _report(session_factory, chain, key).root)


def test_a_signed_checkpoint_refuses_every_consistency_proof_after_a_rewrite(session_factory, engine, chain, key):
    signed = _signed(session_factory, chain, key)
    with transaction(session_factory) as session:
        _append(session, chain, [_entry(100 + i) for i in range(3)])
    honest = _leaves(session_factory, chain)
    assert verify_consistency(N, N + 3, signed["root"], _report(session_factory, chain, key).root,
                              consistency_proof(N, honest))
    _rewrite_consistently(session_factory, engine, chain, position=2, price=1)
    rewritten = _leaves(session_factory, chain)
    report = _report(session_factory, chain, key)
    assert not verify_consistency(N, N + 3, signed["root"], report.root, consistency_proof(N, rewritten))
    assert [p.kind for p in report.problems] == ["checkpoint"]


# What a dishonest insider changes in one entry, as SQL on ledger_entries (the append-only triggers off).
CHANGES = {
    "a refused meal made billable": "verdict = 'billable', reasons = ''",
    "the price inflated": "price_tiyn = price_tiyn + 100000",  # (position 4 is billable)
    "another serving day": "serving_day = '2026-11-24', billing_month = '2026-11'",
    "another meal type": "meal_type = 'breakfast'",
    "another child (the reference sent)": "student_ref = 'stu-9999'",
    "another category": "category_code = 'orphan'",
    "another time served": "served_at = '2026-11-23 07:00:00.000123+00:00'",
    "another terminal": "terminal_id = 'T-999'",
    "another device sequence": "device_seq = device_seq + 1000",
    "a note added": "note = 'reviewed'",
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_wallet_verify_names_exactly_the_changed_entry(session_factory, engine, chain, key, run, dev_key, change):
    ids = _ids_by_position(session_factory, chain)
    # Position 3 is a refused meal (so "made billable" is a change); the price is raised on a billable one.
    position = 4 if change == "the price inflated" else 3
    assignment = CHANGES[change]
    if engine.dialect.name == "sqlite":
        assignment = assignment.replace("'2026-11-23 07:00:00.000123+00:00'", "'2026-11-23 07:00:00.000123'")
    tamper(engine, "ledger_entries", (f"UPDATE ledger_entries SET {assignment} WHERE id = :id", {"id": ids[position]}))
    report = _report(session_factory, chain, dev_key)
    entry_problems = [p for p in report.problems if p.kind == "entry"]
    assert [(p.position, p.entry_id) for p in entry_problems] == [(position, ids[position])], report.describe()
    result = run("verify")
    assert result.exit_code == 1
    assert f"FAILED {BIN_A} entry at position {position} (id {ids[position]})" in result.output
    named = {int(n) for n in re.findall(r"position (\d+)", result.output)}
    assert named == {position}, result.output


def test_a_meal_moved_to_another_child_is_named(session_factory, engine, chain, key):
    import datetime as dt
    import uuid

    from tests.factories import an_iin
    from wallet.models import Student

    with transaction(session_factory) as session:
        child = Student(id=uuid.uuid4(), iin=an_iin(dt.date(2017, 3, 3)), last_name="Другой", first_name="Ребёнок")
        session.add(child)
    ids = _ids_by_position(session_factory, chain)
    value = child.id.hex if engine.dialect.name == "sqlite" else str(child.id)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET student_id = :s WHERE id = :id",
                                      {"s": value, "id": ids[2]}))
    report = _report(session_factory, chain, key)
    assert [(p.position, p.entry_id) for p in report.problems if p.kind == "entry"] == [(2, ids[2])]


def test_every_checkpoint_signature_is_checked_with_the_auditors_keys(session_factory, chain, key):
    """A checkpoint is only as good as the key that checks it: with the public key of another signer, every
    checkpoint of the chain is reported (none is silently trusted)."""
    _signed(session_factory, chain, key)
    with session_factory() as session:
        from wallet.ledger.verify import verify_chain

        report = verify_chain(session, chain, public_keys_of(SigningKey.generate()))
    assert [p.kind for p in report.problems] == ["checkpoint"]
