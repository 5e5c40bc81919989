"""/readyz names whether the national log's head is witnessed (k of n), and stays ready when it is not."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.cosignature import Cosigner
from wallet.db import transaction
from wallet.ledger.signing import SigningKey
from wallet.models import Cosignature, WitnessOutcome
from wallet.witness_settings import WitnessPolicy, WitnessSpec
from wallet.witnessing.national import extend_national_log

COSIGNERS = [Cosigner(f"w.test/{n}", Ed25519PrivateKey.generate()) for n in "abc"]
POLICY = WitnessPolicy("meals.test/log", tuple(WitnessSpec(f"http://{c.name}", c.verifier) for c in COSIGNERS), 2)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, witness_policy=POLICY)


def test_readyz_without_a_head_is_ready_and_says_so(checked):
    body = checked.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["witnesses"]["state"] == "no national head yet"


def test_readyz_names_an_unwitnessed_head_and_who_is_down(checked, session_factory):
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with transaction(session_factory) as session:
        head = extend_national_log(session, SigningKey.generate(), POLICY.log_origin)
        cosigner = COSIGNERS[0]
        session.add(Cosignature(national_checkpoint_id=head.id, witness_name=cosigner.name,
                                key_id=cosigner.verifier.key_id.hex(), timestamp=1, line="x", received_at=now))
        session.add(WitnessOutcome(witness_name=cosigner.name, tree_size=0, outcome="cosigned", status=200,
                                   detail="", at=now))
        session.add(WitnessOutcome(witness_name="w.test/b", tree_size=0, outcome="unreachable", detail="timeout",
                                   at=now))
    response = checked.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["witnesses"] == {"state": "not witnessed", "headSize": 0, "cosigned": 1,
                                                "quorum": 2, "witnesses": 3, "down": ["w.test/b", "w.test/c"]}
