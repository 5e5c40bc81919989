"""tlog/: signed notes, checkpoints and cosignatures against the examples published with the C2SP specs,
and its RFC 9162 proof checks against the service's Merkle code (wallet/ledger/merkle.py)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from tlog import note
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.cosignature import Cosigner, cosigner_verifier, verify_cosignature
from tlog.proof import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from wallet.ledger import merkle

# c2sp.org/signed-note@v1.0.0, "Example": this verifier key verifies this note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72"
    "IneyaQM=\n"
)
# c2sp.org/tlog-checkpoint@v1.0.0, the example checkpoint (its signature's key is not published).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo"
    "+zyWE+xeMcTOAYQ8=\n"
)


def test_spec_vkey_parses_and_its_key_id_is_recomputed():
    verifier = note.parse_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey() == SPEC_VKEY


def test_spec_note_verifies_with_spec_vkey():
    text, sigs = note.verify(SPEC_NOTE, [note.parse_vkey(SPEC_VKEY)])
    assert text == "This is an example message.\n"
    assert [s.name for s in sigs] == ["example.com/foo"]


def test_spec_note_altered_by_one_character_is_rejected():
    with pytest.raises(note.NoteError, match="does not verify"):
        note.verify(SPEC_NOTE.replace("example message", "example massage"), [note.parse_vkey(SPEC_VKEY)])


def test_unknown_keys_are_ignored_and_no_known_key_rejects():
    other = note.NoteSigner("example.com/foo", Ed25519PrivateKey.generate())  # same name, other id
    with pytest.raises(note.NoteError, match="no signature of a trusted key"):
        note.verify(SPEC_NOTE, [other.verifier])
    # A second, unknown signature next to the known one changes nothing.
    extra = SPEC_NOTE + other.sign_line("This is an example message.\n")
    assert len(note.verify(extra, [note.parse_vkey(SPEC_VKEY)])[1]) == 1


def test_spec_checkpoint_parses():
    text, sigs = note.split(SPEC_CHECKPOINT)
    checkpoint = parse_checkpoint(text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.text() == text
    assert sigs[0].key_id.hex() == "033de0ae"


@pytest.mark.parametrize("text", [
    "origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # leading zero
    "origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  # no padding
    "origin\n12\nAAAA\n",  # short hash
    "\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # empty origin
    "origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  # no final newline
    "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
])
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(note.NoteError):
        parse_checkpoint(text)


@pytest.mark.parametrize("bad", [
    "text\n\n- name AAAA\n", "text\n\n\u2014 na+me Uw2QOkn8=\n", "text\n\n", "text\n\u2014 n AAAAAAAA\n",
    "te\x01xt\n\n\u2014 n AAAAAAAA\n", "text\n\n\u2014 n AAAA\n",
])
def test_malformed_notes_are_refused(bad):
    with pytest.raises(note.NoteError):
        note.split(bad)


def test_cosignature_round_trip_and_binding():
    cosigner = Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    text = Checkpoint("example.com/log", 5, bytes(32)).text()
    line = cosigner.cosign(text, 1679315147)
    _, (sig,) = note.split(text + "\n" + line)
    verified = verify_cosignature(text, sig, cosigner.verifier)
    assert verified.timestamp == 1679315147
    # The key id is SHA-256(name || 0x0A || 0x04 || key)[:4], distinct from an 0x01 key's id.
    assert cosigner.verifier.key_id == note.key_id("witness.example/w1", 4, cosigner.verifier.public_key)
    with pytest.raises(note.NoteError):
        verify_cosignature(Checkpoint("example.com/log", 5, b"\x01" * 32).text(), sig, cosigner.verifier)
    wrong = cosigner_verifier("witness.example/w1", Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    with pytest.raises(note.NoteError):
        verify_cosignature(text, sig, wrong)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_proof_checks_agree_with_the_service_merkle_code(leaves, data):
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    assert hashes[0] == leaf_hash(leaves[0])
    n = len(hashes)
    index = data.draw(st.integers(0, n - 1))
    root = merkle.root_hash(hashes)
    assert verify_inclusion(hashes[index], index, n, merkle.inclusion_proof(index, hashes), root)
    old = data.draw(st.integers(0, n))
    old_root = merkle.root_hash(hashes[:old])
    proof = merkle.consistency_proof(old, hashes)
    assert verify_consistency(old, n, old_root, root, proof) == merkle.verify_consistency(old, n, old_root, root, proof)
    assert verify_consistency(old, n, old_root, root, proof)
    if proof:
        tampered = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not verify_consistency(old, n, old_root, root, tampered)
    if old and old < n:
        assert not verify_consistency(old, n, root, root, proof)
    assert EMPTY_ROOT == merkle.EMPTY_ROOT


def test_a_vkey_whose_base64_holds_a_plus_parses():
    for seed in range(256):
        signer = note.NoteSigner("example.com/k", Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))
        if "+" in signer.verifier.vkey().split("+", 2)[2]:
            break
    assert note.parse_vkey(signer.verifier.vkey()) == signer.verifier
