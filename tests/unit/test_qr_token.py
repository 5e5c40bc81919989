"""The QR token format: round trip, strict decoding, every single-bit change refused, and the terminal's own
reading of the format (devices/qrtoken.py) agreeing with the service's."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import qrtoken
from wallet.ledger.signing import SigningKey
from wallet.qr.token import QrClaims, QrKeyring, QrTokenError, decode_token, encode_token

# A fixed key and fixed ids make TOKEN the same text on every run (Ed25519 signatures are deterministic), so
# the cases built from it below never depend on chance: a random token without any '-' would make the
# standard-alphabet case below the very token itself.
KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
RING = QrKeyring({KEY.key_id: KEY.public_key_raw})
CLAIMS = QrClaims(token_id=uuid.UUID(int=0x0123456789ABCDEF0123456789ABCDEF),
                  voucher_id=uuid.UUID(int=0xFEDCBA9876543210FEDCBA9876543210), school_bin="123456789012",
                  meal_type="lunch", not_before=1_796_000_000, expires=1_796_000_300, key_id=KEY.key_id)
TOKEN = encode_token(CLAIMS, KEY)
RAW = base64.urlsafe_b64decode(TOKEN + "==")
STANDARD_ALPHABET = TOKEN.translate(str.maketrans("-_", "+/"))  # the same bytes, spelled as plain base64


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_and_size():
    assert decode_token(TOKEN, RING) == CLAIMS
    assert len(RAW) <= 160 and len(TOKEN) <= 213  # version 10, level M, byte mode holds 213


def test_it_is_a_cose_sign1_with_eddsa_and_the_key_id():
    message = cbor2.loads(RAW)
    assert message.tag == 18
    protected, unprotected, payload, signature = message.value
    assert cbor2.loads(protected) == {1: -8, 4: bytes.fromhex(KEY.key_id)} and unprotected == {}
    assert len(signature) == 64
    assert list(cbor2.loads(payload)) == [1, CLAIMS.token_id.bytes, CLAIMS.voucher_id.bytes, CLAIMS.school_bin,
                                          "lunch", CLAIMS.not_before, CLAIMS.expires]


def test_every_single_bit_flip_is_refused():
    for bit in range(len(RAW) * 8):
        changed = bytearray(RAW)
        changed[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(QrTokenError):
            decode_token(_text(bytes(changed)), RING)


@pytest.mark.parametrize("text", [
    "", "A", TOKEN[:-1], TOKEN[:-4], TOKEN + "A", TOKEN + "==", STANDARD_ALPHABET, " " + TOKEN, None, 12,
    _text(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""]))), _text(cbor2.dumps([1, 2, 3, 4])),
    _text(cbor2.dumps(cbor2.loads(RAW).value)),  # untagged
])
def test_malformed_texts_are_refused(text):
    assert STANDARD_ALPHABET != TOKEN, "the fixed token has no '-' or '_': pick other fixed ids"
    with pytest.raises(QrTokenError):
        decode_token(text, RING)


def test_a_token_of_another_key_is_refused():
    stranger = SigningKey.generate()
    with pytest.raises(QrTokenError, match="unknown key"):
        decode_token(encode_token(CLAIMS, stranger), RING)
    # ... also when the stranger claims our key id.
    message = cbor2.loads(cbor2.loads(RAW).value[0])
    assert message[4] == bytes.fromhex(KEY.key_id)
    forged_sig = stranger.sign(cbor2.dumps(["Signature1", cbor2.loads(RAW).value[0], b"", cbor2.loads(RAW).value[2]]))
    parts = list(cbor2.loads(RAW).value)
    parts[3] = forged_sig
    with pytest.raises(QrTokenError, match="signature"):
        decode_token(_text(cbor2.dumps(cbor2.CBORTag(18, parts))), RING)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_else(raw):
    with pytest.raises(QrTokenError):
        decode_token(_text(raw), RING)
    with pytest.raises(qrtoken.QrRefused):
        qrtoken.verify(_text(raw), {bytes.fromhex(KEY.key_id): _public()})


def _public():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(KEY.public_key_raw)


def test_the_terminal_reads_the_same_claims():
    roster = {"qrKeys": [{"keyId": KEY.key_id, "alg": "EdDSA", "publicKey": _text(KEY.public_key_raw)}]}
    scanned = qrtoken.verify(TOKEN, qrtoken.public_keys(roster))
    assert (scanned.token_id, scanned.voucher_id, scanned.school_bin, scanned.meal_type, scanned.not_before,
            scanned.expires) == (CLAIMS.token_id, CLAIMS.voucher_id, CLAIMS.school_bin, CLAIMS.meal_type,
                                 CLAIMS.not_before, CLAIMS.expires)
    at = dt.datetime.fromtimestamp(CLAIMS.not_before + 10, dt.UTC)
    qrtoken.check(scanned, school_bin=CLAIMS.school_bin, meal_type="lunch", now=at)
    for kwargs, reason in [({"school_bin": "000000000000"}, "other_school"),
                           ({"meal_type": "snack"}, "other_meal_type"),
                           ({"now": at + dt.timedelta(hours=1)}, "expired"),
                           ({"now": at - dt.timedelta(hours=1)}, "not_yet_valid")]:
        args = {"school_bin": CLAIMS.school_bin, "meal_type": "lunch", "now": at, **kwargs}
        with pytest.raises(qrtoken.QrRefused) as refused:
            qrtoken.check(scanned, **args)
        assert refused.value.reason == reason


@pytest.mark.parametrize("bad", [
    {"meal_type": "dinner"}, {"school_bin": "12345"}, {"not_before": 10, "expires": 5}, {"expires": 2**32},
])
def test_encode_refuses_claims_outside_the_format(bad):
    fields = {**CLAIMS.__dict__, **bad}
    with pytest.raises(ValueError):
        encode_token(QrClaims(**fields), KEY)


@pytest.mark.parametrize("text", [
    _text(cbor2.dumps(cbor2.CBORTag(18, list(cbor2.loads(RAW).value)), canonical=False).replace(b"\x84", b"\x9f", 1)
          + b"\xff"),  # indefinite-length array: another spelling of the same message
    TOKEN[:-1] + ("B" if TOKEN[-1] == "A" else "A") if len(TOKEN) % 4 == 2 else TOKEN + "A",
])
def test_the_terminal_refuses_other_spellings_as_the_service_does(text):
    keys = {bytes.fromhex(KEY.key_id): _public()}
    with pytest.raises(QrTokenError):
        decode_token(text, RING)
    with pytest.raises(qrtoken.QrRefused):
        qrtoken.verify(text, keys)
