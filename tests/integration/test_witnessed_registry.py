"""With witnesses configured, a month's payment registry is made only against a national head that k of
them cosigned and that covers the month's close checkpoints; the file names the head and carries the
cosignatures, which verify with the witnesses' keys alone."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.integration.test_reconciliation_totals import MONTH, OPERATOR, build, local, record_month
from tests.witness_inprocess import InProcessWitnesses
from tlog import note
from tlog.cosignature import verify_cosignature
from wallet.db import transaction
from wallet.errors import Conflict
from wallet.keys import load_signing_key
from wallet.reconciliation.periods import close_period
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import write
from wallet.reports.payments import payment_registry, registry_document
from wallet.witnessing.collect import collect
from wallet.witnessing.national import extend_national_log, log_vkey

ORIGIN = "meals.test/ledger"
LATER = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def _registry(session_factory, policy):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        scope = resolve_scope(session, OPERATOR, region="KZ-75")
        return payment_registry(session, scope, MONTH, now=LATER, witnesses=policy)


def test_registry_waits_for_k_cosignatures_and_then_carries_them(session_factory, settings, tmp_path):
    gen = build(session_factory, 7)
    record_month(session_factory, gen, 7)
    key = load_signing_key(settings)
    witnesses = InProcessWitnesses(tmp_path, ORIGIN, log_vkey(ORIGIN, key))
    policy = witnesses.policy
    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", MONTH, key, now=local("Asia/Almaty", dt.date(2026, 4, 3), 9))
    assert _registry(session_factory, None).witnessed is None  # no witnesses: as before

    with pytest.raises(Conflict) as refused:
        _registry(session_factory, policy)
    assert refused.value.code == "checkpoint_not_witnessed" and "witness collect" in refused.value.message

    # In the national log, but only one of three witnesses answers: 1 < 2, payment still waits.
    witnesses.down = {"witness.test/w1", "witness.test/w2"}
    with transaction(session_factory) as session:
        extend_national_log(session, key, ORIGIN)
    report = collect(session_factory, policy, post=witnesses.post)
    assert (report.cosigned, report.witnessed) == (1, False)
    with pytest.raises(Conflict) as refused:
        _registry(session_factory, policy)
    assert refused.value.code == "checkpoint_not_witnessed" and "2 of the 3" in refused.value.message

    witnesses.down = {"witness.test/w2"}
    assert collect(session_factory, policy, post=witnesses.post).witnessed
    registry = _registry(session_factory, policy)
    document = json.loads(b"".join(write(registry_document(registry), "json")))
    assert document["witnessedLog"] == ORIGIN
    assert [c["witness"] for c in document["cosignatures"]] == ["witness.test/w0", "witness.test/w1"]
    text, _ = note.split(document["witnessedCheckpoint"])
    assert text.split("\n")[1] == str(document["witnessedTreeSize"])
    for row, config in zip(document["cosignatures"], witnesses.configs, strict=False):
        _, (sig,) = note.split("x\n\n" + row["line"] + "\n")
        assert verify_cosignature(text, sig, config.cosigner.verifier).timestamp == row["timestamp"]
    csv = b"".join(write(registry_document(registry), "csv")).decode()
    assert "cosignatures" in csv and "witness.test/w0" in csv
