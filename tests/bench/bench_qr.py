"""Dynamic QR token benchmark: issue and offline verification rates against bare Ed25519, and the size.

Run from the repository root (no database needed):

    .venv/bin/python -m tests.bench.bench_qr [--seconds 3] [--rounds 3]

One process pinned to one CPU. Each rate is the best of `--rounds` timed loops of `--seconds` each, and
every figure is set beside a baseline measured in the same run on the same core:

  issue   wallet.qr.token.encode_token (CBOR payload and header, Sig_structure, Ed25519 signature,
          CBOR message, base64url) vs a bare Ed25519 sign (cryptography) of the same to-be-signed bytes;
  verify  the service's decode_token (strict decoding, signature, claims) and the terminal's own
          devices.qrtoken.verify + check vs a bare Ed25519 verify of the same signature and bytes.

Sizes: the token in bytes and in base64url characters; the QR version it needs at error-correction level
M (segno, byte mode), the version of the raw bytes in a binary QR code (for reference), and the size of a
compact JWS (EdDSA) carrying the same claims, for comparison.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import time
import uuid
from collections.abc import Callable

import cbor2
import jwt
import segno

from devices import qrtoken
from wallet.ledger.signing import SigningKey
from wallet.qr.token import QrClaims, QrKeyring, decode_token, encode_token


def rate(work: Callable[[], object], seconds: float, rounds: int) -> float:
    """Best calls per second over `rounds` loops of about `seconds` each."""
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(200):
                work()
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def qr_version(data: str | bytes) -> int:
    return segno.make_qr(data, error="m", mode="byte", boost_error=False).version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    key = SigningKey.generate()
    ring = QrKeyring({key.key_id: key.public_key_raw})
    now = int(time.time())
    claims = QrClaims(token_id=uuid.uuid4(), voucher_id=uuid.uuid4(), school_bin="101140000123", meal_type="breakfast",
                      not_before=now, expires=now + 300, key_id=key.key_id)
    token = encode_token(claims, key)
    raw = base64.urlsafe_b64decode(token + "==")
    protected, _, payload, signature = cbor2.loads(raw).value
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    public = ring.get(bytes.fromhex(key.key_id))
    assert public is not None
    terminal_keys = {bytes.fromhex(key.key_id): public}
    at = dt.datetime.fromtimestamp(now + 10, dt.UTC)

    def terminal_check() -> None:
        scanned = qrtoken.verify(token, terminal_keys)
        qrtoken.check(scanned, school_bin="101140000123", meal_type="breakfast", now=at)

    figures = {
        "bare Ed25519 sign": rate(lambda: key.sign(to_be_signed), args.seconds, args.rounds),
        "issue (encode_token)": rate(lambda: encode_token(claims, key), args.seconds, args.rounds),
        "bare Ed25519 verify": rate(lambda: public.verify(signature, to_be_signed), args.seconds, args.rounds),
        "service decode_token": rate(lambda: decode_token(token, ring), args.seconds, args.rounds),
        "terminal verify + check": rate(terminal_check, args.seconds, args.rounds),
    }
    jws = jwt.encode({"jti": claims.token_id.hex, "vid": claims.voucher_id.hex, "sch": claims.school_bin,
                      "meal": claims.meal_type, "nbf": claims.not_before, "exp": claims.expires},
                     key._private_key, algorithm="EdDSA", headers={"kid": key.key_id})

    print(f"# bench_qr on {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"one CPU, best of {args.rounds} x {args.seconds:g} s")
    print(f"{'':28}{'per second':>12}{'us each':>10}{'vs baseline':>13}")
    baselines = {"issue (encode_token)": "bare Ed25519 sign", "service decode_token": "bare Ed25519 verify",
                 "terminal verify + check": "bare Ed25519 verify"}
    for name, value in figures.items():
        ratio = f"{value / figures[baselines[name]]:.2f}" if name in baselines else "baseline"
        print(f"{name:28}{value:12,.0f}{1e6 / value:10.1f}{ratio:>13}")
    print(f"token: {len(raw)} bytes, {len(token)} base64url characters, QR version {qr_version(token)} "
          f"(level M, byte mode); the raw bytes as a binary QR: version {qr_version(raw)}")
    print(f"compact JWS (EdDSA) with the same claims: {len(jws)} characters, QR version {qr_version(jws)}")


if __name__ == "__main__":
    main()
