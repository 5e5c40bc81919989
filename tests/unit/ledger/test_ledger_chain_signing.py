"""The hash chain and Ed25519-signed checkpoints."""

from __future__ import annotations

import base64
import copy
import hashlib

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given
from hypothesis import strategies as st

from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.merkle import leaf_hash
from wallet.ledger.signing import (
    CHECKPOINT_FORMAT,
    SigningKey,
    checkpoint_body,
    key_id_for,
    sign_checkpoint,
    verify_checkpoint,
)

# Fixed keys, so every garbled variant below differs from the good envelope on every run (a random key id of
# digits only would make its upper-cased variant the good one).
KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER_KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))))
ROOT = hashlib.sha256(b"root").digest()
CHAIN = hashlib.sha256(b"chain").digest()


def _body(**changes):
    body = checkpoint_body("school-42", 17, ROOT, CHAIN, "2025-01-31T12:00:00Z")
    body.update(changes)
    return body


# --- chain ----------------------------------------------------------------------------------------


def test_chain_hash_is_sha256_of_previous_and_leaf():
    first = leaf_hash(b"entry 1")
    assert bytes(32) == GENESIS_CHAIN_HASH
    assert next_chain_hash(GENESIS_CHAIN_HASH, first) == hashlib.sha256(bytes(32) + first).digest()


def test_chain_depends_on_order():
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    ab = next_chain_hash(next_chain_hash(GENESIS_CHAIN_HASH, a), b)
    ba = next_chain_hash(next_chain_hash(GENESIS_CHAIN_HASH, b), a)
    assert ab != ba


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), bytes(32).hex()])
def test_chain_refuses_wrong_sized_inputs(bad):
    with pytest.raises(ValueError):
        next_chain_hash(bad, leaf_hash(b"x"))
    with pytest.raises(ValueError):
        next_chain_hash(GENESIS_CHAIN_HASH, bad)


# --- checkpoint body ------------------------------------------------------------------------------


def test_checkpoint_body_shape():
    assert _body() == {
        "format": CHECKPOINT_FORMAT,
        "chainId": "school-42",
        "treeSize": 17,
        "rootHash": ROOT.hex(),
        "chainHash": CHAIN.hex(),
        "issuedAt": "2025-01-31T12:00:00Z",
    }
    assert CHECKPOINT_FORMAT == "wallet-checkpoint/v1"


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT, CHAIN, "2025-01-31T12:00:00Z"),  # empty chain id
        ("s", -1, ROOT, CHAIN, "2025-01-31T12:00:00Z"),
        ("s", True, ROOT, CHAIN, "2025-01-31T12:00:00Z"),
        ("s", 2**53, ROOT, CHAIN, "2025-01-31T12:00:00Z"),
        ("s", 1, ROOT[:31], CHAIN, "2025-01-31T12:00:00Z"),
        ("s", 1, ROOT, CHAIN.hex(), "2025-01-31T12:00:00Z"),
        ("s", 1, ROOT, CHAIN, "2025-01-31T12:00:00"),  # no offset
        ("s", 1, ROOT, CHAIN, "yesterday"),
    ],
)
def test_checkpoint_body_refuses_bad_fields(args):
    with pytest.raises(ValueError):
        checkpoint_body(*args)


# --- keys -----------------------------------------------------------------------------------------


def test_key_id_is_first_16_hex_of_sha256_of_raw_public_key():
    raw = KEY.public_key_raw
    assert len(raw) == 32
    assert KEY.key_id == key_id_for(raw) == hashlib.sha256(raw).hexdigest()[:16]


def test_pem_round_trip_keeps_the_key():
    assert SigningKey.from_pem(KEY.to_pem()).key_id == KEY.key_id
    assert KEY.to_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
    encrypted = KEY.to_pem(password=b"s3cret")
    assert SigningKey.from_pem(encrypted, password=b"s3cret").key_id == KEY.key_id


def test_pem_of_another_algorithm_is_refused():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem)


def test_repr_shows_no_key_material():
    assert repr(KEY) == f"SigningKey(key_id={KEY.key_id})"


# --- sign and verify ------------------------------------------------------------------------------


def test_round_trip():
    signed = sign_checkpoint(_body(), KEY)
    assert set(signed) == {"body", "signature", "keyId"}
    assert signed["keyId"] == KEY.key_id
    assert "=" not in signed["signature"]
    assert verify_checkpoint(signed, KEY.public_key_raw)


def test_signature_is_ed25519_over_rfc8785_bytes_of_body():
    # Pins the wire format for outside verifiers: plain JCS + Ed25519, nothing of ours in between.
    signed = sign_checkpoint(_body(), KEY)
    signature = base64.urlsafe_b64decode(signed["signature"] + "==")
    Ed25519PublicKey.from_public_bytes(KEY.public_key_raw).verify(signature, rfc8785.dumps(signed["body"]))


def test_signed_result_does_not_follow_later_changes_to_the_callers_body():
    body = _body()
    signed = sign_checkpoint(body, KEY)
    body["treeSize"] = 99
    assert verify_checkpoint(signed, KEY.public_key_raw)


@pytest.mark.parametrize(
    "change",
    [
        {"treeSize": 18},
        {"rootHash": CHAIN.hex()},
        {"chainHash": ROOT.hex()},
        {"chainId": "school-43"},
        {"issuedAt": "2025-01-31T12:00:01Z"},
    ],
)
def test_tampered_body_fails(change):
    signed = sign_checkpoint(_body(), KEY)
    signed["body"].update(change)
    assert not verify_checkpoint(signed, KEY.public_key_raw)


def test_wrong_key_fails():
    signed = sign_checkpoint(_body(), KEY)
    assert not verify_checkpoint(signed, OTHER_KEY.public_key_raw)
    # Even when the key id is changed to match, the signature does not.
    signed["keyId"] = OTHER_KEY.key_id
    assert not verify_checkpoint(signed, OTHER_KEY.public_key_raw)


def test_sign_refuses_non_checkpoint_bodies():
    with pytest.raises(ValueError):
        sign_checkpoint({"format": CHECKPOINT_FORMAT}, KEY)
    with pytest.raises(ValueError):
        sign_checkpoint(_body(format="wallet-checkpoint/v2"), KEY)
    with pytest.raises(ValueError):
        sign_checkpoint({**_body(), "extra": 1}, KEY)


def _garbled_envelopes():
    good = sign_checkpoint(_body(), KEY)
    signature = good["signature"]
    variants = [
        None,
        [],
        "signed",
        {},
        {"body": good["body"], "signature": signature},  # no keyId
        {**good, "note": "unsigned extra"},
        {**good, "body": None},
        {**good, "body": {**good["body"], "extra": 1}},
        {**good, "body": {**good["body"], "treeSize": 17.0}},
        {**good, "body": {**good["body"], "chainId": "\ud800"}},
        {**good, "body": {**good["body"], "rootHash": ROOT.hex().upper()}},
        {**good, "signature": None},
        {**good, "signature": ""},
        {**good, "signature": signature + "=="},  # padding
        {**good, "signature": signature[:-1]},
        {**good, "signature": signature[:-1] + "!"},
        {**good, "signature": signature[:-1] + chr(ord(signature[-1]) ^ 1)},  # non-zero trailing bits
        {**good, "signature": base64.b64encode(base64.urlsafe_b64decode(signature + "==")).decode()},
        {**good, "signature": "A" * 86},
        {**good, "keyId": None},
        {**good, "keyId": KEY.key_id.upper()},
    ]
    assert all(repr(variant) != repr(good) for variant in variants)  # repr: 17.0 == 17, yet it is garbled
    return variants


@pytest.mark.parametrize("signed", _garbled_envelopes())
def test_garbage_envelopes_are_false(signed):
    assert verify_checkpoint(signed, KEY.public_key_raw) is False


@pytest.mark.parametrize(
    "public_key", [None, b"", KEY.public_key_raw[:31], KEY.public_key_raw.hex(), bytes(32)]
)
def test_garbage_public_keys_are_false(public_key):
    assert verify_checkpoint(sign_checkpoint(_body(), KEY), public_key) is False


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=90) | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=20,
)


@given(body=json_junk, signature=json_junk, key_id=json_junk, public_key=json_junk)
def test_verify_never_raises(body, signature, key_id, public_key):
    signed = {"body": body, "signature": signature, "keyId": key_id}
    assert verify_checkpoint(signed, public_key) is False
    assert verify_checkpoint(copy.deepcopy(signed), KEY.public_key_raw) is False
