"""Inclusion proofs of entries and consistency proofs between checkpoints, checked offline with the public
key only; tampering is caught; entries and schools outside the scope are 404."""

import copy
import json

import pytest

from tests.api.test_reconciliation_api import staff
from tests.reconciliation_world import build_scenario, local
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.checkpoints import make_checkpoint
from wallet.ledger.signing import SigningKey
from wallet.reconciliation.proofs import verify_document


@pytest.fixture
def scenario(session_factory):
    return build_scenario(session_factory)


def test_an_entry_proof_verifies_with_the_public_key_only(checked, settings, scenario, session_factory):
    w = scenario.world
    entry_id = scenario.meal_ids[7]
    response = checked.get(f"/api/v1/auditor/entries/{entry_id}/proof",
                           headers=staff(settings, role="school_admin", school=w.school.bin))
    assert response.status_code == 200
    proof = response.get_json()
    assert proof["entryId"] == entry_id and proof["schoolBin"] == w.school.bin and proof["treeSize"] == 20
    assert json.loads(proof["payload"])["position"] == proof["leafIndex"] + 1 == 8
    keys = public_keys_of(load_signing_key(settings))
    assert verify_document(proof, keys) == []
    # No checkpoint covered the entry, so one was signed; the next request uses it.
    again = checked.get(f"/api/v1/auditor/entries/{entry_id}/proof", headers=staff(settings, role="operator"))
    assert again.get_json()["checkpoint"] == proof["checkpoint"]
    # A later checkpoint is preferred; an earlier one can be asked for by size.
    scenario.recorder.meal(w.eligible[4], local(scenario.serving[6]))
    with session_factory() as session:
        make_checkpoint(session, w.school.id, load_signing_key(settings))
        session.commit()
    newest = checked.get(f"/api/v1/auditor/entries/{entry_id}/proof", headers=staff(settings, role="operator"))
    assert newest.get_json()["treeSize"] == 21 and verify_document(newest.get_json(), keys) == []
    older = checked.get(f"/api/v1/auditor/entries/{entry_id}/proof?treeSize=20",
                        headers=staff(settings, role="operator"))
    assert older.get_json()["treeSize"] == 20


@pytest.mark.parametrize(
    ("path", "change", "problem"),
    [
        (("payload",), lambda p: p.replace('"verdict":"billable"', '"verdict":"not_billable"'), "payload hashes"),
        (("payload",), lambda p: p.replace('{"actor"', '{ "actor"'), "canonical"),
        (("leafIndex",), lambda i: i + 1, "position does not match"),
        (("inclusionProof",), lambda items: list(reversed(items)), "does not lead"),
        (("checkpoint", "body", "treeSize"), lambda n: n + 1, "signature does not verify"),
        (("checkpoint", "signature"), lambda s: ("A" if s[0] != "A" else "B") + s[1:], "signature does not verify"),
        (("schoolBin",), lambda b: "000000000000", "signed for chain"),
    ],
)
def test_a_tampered_proof_is_refused(checked, settings, scenario, path, change, problem):
    proof = checked.get(f"/api/v1/auditor/entries/{scenario.meal_ids[3]}/proof",
                        headers=staff(settings, role="operator")).get_json()
    tampered = copy.deepcopy(proof)
    target = tampered
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = change(target[path[-1]])
    problems = verify_document(tampered, public_keys_of(load_signing_key(settings)))
    assert any(problem in p for p in problems), problems


def test_another_key_does_not_verify(checked, settings, scenario):
    proof = checked.get(f"/api/v1/auditor/entries/{scenario.meal_ids[0]}/proof",
                        headers=staff(settings, role="operator")).get_json()
    assert verify_document(proof, public_keys_of(SigningKey.generate())) != []
    assert verify_document({"format": "other"}, {}) != [] and verify_document([], {}) != []


def test_entries_outside_the_scope_are_not_found(checked, settings, scenario):
    entry_id = scenario.meal_ids[0]
    for claims in ({"role": "school_admin", "school": scenario.world.other_school.bin},
                   {"role": "auditor", "region": "KZ-19"}, {"role": "supplier", "supplier": "990340000024"}):
        response = checked.get(f"/api/v1/auditor/entries/{entry_id}/proof", headers=staff(settings, **claims))
        assert response.status_code == 404, claims
    operator = staff(settings, role="operator")
    assert checked.get("/api/v1/auditor/entries/999999/proof", headers=operator).status_code == 404
    assert checked.get(f"/api/v1/auditor/entries/{entry_id}/proof?treeSize=7", headers=operator).status_code == 404
    assert checked.get(f"/api/v1/auditor/entries/{entry_id}/proof?treeSize=x", headers=operator).status_code == 422
    assert checked.get(f"/api/v1/auditor/entries/{entry_id}/proof", headers=staff(settings, role="parent")
                       ).status_code == 403


def test_consistency_between_two_checkpoints(checked, settings, scenario, session_factory):
    w = scenario.world
    key = load_signing_key(settings)
    with session_factory() as session:
        make_checkpoint(session, w.school.id, key)
        session.commit()
    for n in range(3):
        scenario.recorder.meal(w.eligible[n], local(scenario.serving[8], 12))
    with session_factory() as session:
        make_checkpoint(session, w.school.id, key)
        session.commit()
    url = f"/api/v1/auditor/schools/{w.school.bin}/consistency"
    auditor = staff(settings, role="auditor", region=w.region.code)
    response = checked.get(f"{url}?from=20&to=23", headers=auditor)
    assert response.status_code == 200
    proof = response.get_json()
    assert (proof["fromSize"], proof["toSize"]) == (20, 23) and proof["consistencyProof"]
    keys = public_keys_of(key)
    assert verify_document(proof, keys) == []
    same = checked.get(f"{url}?from=23&to=23", headers=auditor).get_json()
    assert same["consistencyProof"] == [] and verify_document(same, keys) == []
    tampered = copy.deepcopy(proof)
    tampered["consistencyProof"][0] = "00" * 32
    assert any("does not extend" in p for p in verify_document(tampered, keys))
    assert checked.get(f"{url}?from=23&to=20", headers=auditor).status_code == 422
    assert checked.get(f"{url}?from=5&to=23", headers=auditor).status_code == 404
    assert checked.get(f"{url}?from=20", headers=auditor).status_code == 422
    assert checked.get(f"{url}?from=20&to=23", headers=staff(settings, role="auditor", region="KZ-19")
                       ).status_code == 404
    assert checked.get("/api/v1/auditor/schools/123/consistency?from=1&to=2", headers=auditor).status_code == 404
