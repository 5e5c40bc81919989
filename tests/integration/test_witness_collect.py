"""Collecting cosignatures (wallet.witnessing.collect) with in-process witnesses, on both databases: answers
are verified before they are stored, a witness that lost track is caught up through its 409, a witness ahead
of us is a suspected fork, and the national log's tables refuse change."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.integration.test_ledger_verify import _append, _build, _entry, triggers_off
from tests.witness_inprocess import InProcessWitnesses
from tlog.checkpoint import Checkpoint as CheckpointText
from tlog.cosignature import Cosigner
from wallet.db import transaction
from wallet.ledger.checkpoints import make_checkpoints
from wallet.ledger.merkle import root_hash
from wallet.ledger.signing import SigningKey
from wallet.models import Cosignature, WitnessOutcome
from wallet.witnessing.collect import collect
from wallet.witnessing.national import extend_national_log, log_vkey, sign_note

ORIGIN = "meals.test/ledger"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def witnesses(tmp_path, key):  # type: ignore[no-untyped-def]
    return InProcessWitnesses(tmp_path, ORIGIN, log_vkey(ORIGIN, key))


def _round(session_factory, key, witnesses, post=None):  # type: ignore[no-untyped-def]
    make_checkpoints(session_factory, key)
    with transaction(session_factory) as session:
        extend_national_log(session, key, ORIGIN)
    return collect(session_factory, witnesses.policy, post=post or witnesses.post)


def test_an_answer_that_does_not_verify_is_not_stored(session_factory, key, witnesses):
    _build(session_factory)
    impostor = Cosigner("witness.test/w0", Ed25519PrivateKey.generate())  # the right name, another key

    def lying(url, body, timeout):  # type: ignore[no-untyped-def]
        if "//w0." in url:
            checkpoint = body.decode().partition("\n\n")[2].partition("\n\n")[0] + "\n"
            return 200, impostor.cosign(checkpoint, 1_700_000_000)
        if "//w1." in url:
            return 200, "not a signature line\n"
        return witnesses.post(url, body, timeout)

    report = _round(session_factory, key, witnesses, lying)
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {"witness.test/w0": "invalid", "witness.test/w1": "invalid", "witness.test/w2": "cosigned"}
    assert not report.witnessed
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Cosignature)) == 1
        assert session.get(WitnessOutcome, "witness.test/w0").outcome == "invalid"


def test_a_witness_that_we_lost_track_of_is_caught_up_through_its_409(session_factory, key, witnesses, engine):
    school = _build(session_factory)
    assert _round(session_factory, key, witnesses).cosigned == 3
    with triggers_off(engine, "cosignatures"), engine.begin() as conn:
        conn.execute(text("DELETE FROM cosignatures"))  # e.g. restored from an older backup
    with transaction(session_factory) as session:
        _append(session, school, [_entry(90)])
    report = _round(session_factory, key, witnesses)
    assert report.cosigned == 3 and not report.fork_suspected


def test_a_witness_ahead_of_our_head_is_a_suspected_fork(session_factory, key, witnesses):
    _build(session_factory)
    # The witness has cosigned size 5 of this log: a history we never had (or rolled back).
    config = witnesses.configs[0]
    note = sign_note(CheckpointText(ORIGIN, 5, root_hash([b"\x01" * 32] * 5)).text(), ORIGIN, key)
    assert witnesses.post("http://w0.test/add-checkpoint", b"old 0\n\n" + note.encode(), 1)[0] == 200
    report = _round(session_factory, key, witnesses)
    result = next(r for r in report.results if r.name == config.cosigner.name)
    assert result.outcome == "refused" and "rolled back" in result.detail
    assert report.fork_suspected and report.witnessed  # the two others still cosign


@pytest.mark.parametrize(("table", "column"), [("national_log_leaves", "leaf_hash"),
                                             ("national_checkpoints", "note"), ("cosignatures", "line")])
def test_the_national_log_tables_refuse_update_and_delete(session_factory, key, witnesses, engine, table, column):
    _build(session_factory)
    _round(session_factory, key, witnesses)
    for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET {column} = NULL"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_wallet_witness_verify_recomputes_the_log_and_names_a_changed_checkpoint(session_factory, key, witnesses,
                                                                                 engine):
    from wallet.witnessing.audit import audit_national_log

    school = _build(session_factory)
    _round(session_factory, key, witnesses)
    with transaction(session_factory) as session:
        _append(session, school, [_entry(70)])
    _round(session_factory, key, witnesses)
    keys = {key.key_id: key.public_key_raw}
    with session_factory() as session:
        audit = audit_national_log(session, witnesses.policy, keys)
    assert (audit.problem, audit.leaves, audit.heads, audit.cosignatures) == (None, 2, 2, 6)
    with triggers_off(engine, "checkpoints"), engine.begin() as conn:
        conn.execute(text("UPDATE checkpoints SET root_hash = :r WHERE id = (SELECT MAX(id) FROM checkpoints)"),
                     {"r": b"\x05" * 32})
    with session_factory() as session:
        audit = audit_national_log(session, witnesses.policy, keys)
    assert audit.problem is not None and "national leaf 1" in audit.problem
    with session_factory() as session:
        other = {SigningKey.generate().key_id: SigningKey.generate().public_key_raw}
        assert "no signature of a trusted key" in audit_national_log(session, witnesses.policy, other).problem


def test_two_collections_at_once_store_one_cosignature_each(session_factory, key, witnesses, monkeypatch):
    """The second collection read no cosignatures yet (as if it ran alongside the first); it stores nothing
    twice and fails nothing."""
    _build(session_factory)
    make_checkpoints(session_factory, key)
    with transaction(session_factory) as session:
        extend_national_log(session, key, ORIGIN)
    first = collect(session_factory, witnesses.policy, post=witnesses.post)
    monkeypatch.setattr("wallet.witnessing.collect.cosignatures_of", lambda session, head: [])
    second = collect(session_factory, witnesses.policy, post=witnesses.post)
    assert first.cosigned == second.cosigned == 3
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Cosignature)) == 3
