"""The witness's add-checkpoint over its Flask app (c2sp.org/tlog-witness): the happy path, and every bad
input refused with the spec's status code while the stored state stays byte for byte what it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.witness_log import ToyLog
from tlog import note
from tlog.checkpoint import Checkpoint
from tlog.cosignature import verify_cosignature
from tlog.proof import EMPTY_ROOT
from witness import config as witness_config
from witness.app import create_app
from witness.protocol import MAX_BODY_BYTES


@pytest.fixture
def log() -> ToyLog:
    toy = ToyLog()
    toy.append(*(f"leaf {i}".encode() for i in range(10)))
    return toy


@pytest.fixture
def witness(tmp_path: Path, log: ToyLog):  # type: ignore[no-untyped-def]
    directory = tmp_path / "w1"
    witness_config.init_dir(directory, "witness.example/w1")
    witness_config.add_log(directory, log.origin, log.signer.verifier.vkey())
    config = witness_config.load(directory)
    return config, create_app(config).test_client()


def _state_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((directory / "logs").glob("*"))}


def _post(client, body: bytes):  # type: ignore[no-untyped-def]
    return client.post("/add-checkpoint", data=body, content_type="text/plain")


def test_first_checkpoint_then_a_consistent_one_are_cosigned(witness, log):
    config, client = witness
    first = _post(client, log.body(0, 4))
    assert first.status_code == 200, first.text
    text = log.checkpoint_text(4)
    _, (sig,) = note.split(text + "\n" + first.text)
    assert verify_cosignature(text, sig, config.cosigner.verifier).timestamp > 0
    second = _post(client, log.body(4, 10))
    assert second.status_code == 200, second.text
    # The monitoring endpoint serves the latest cosigned checkpoint with both signatures.
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    served = client.get(f"/{origin_hash}/checkpoint")
    assert served.status_code == 200
    assert served.text.startswith(log.checkpoint_text(10))
    assert second.text in served.text and log.signer.name in served.text


def test_same_size_same_root_is_cosigned_again(witness, log):
    _, client = witness
    assert _post(client, log.body(0, 6)).status_code == 200
    assert _post(client, log.body(6, 6)).status_code == 200


def test_old_size_not_the_known_one_is_409_with_the_known_size(witness, log):
    _, client = witness
    assert _post(client, log.body(0, 6)).status_code == 200
    response = _post(client, log.body(3, 10))
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "text/x.tlog.size"
    assert response.text == "6\n"


def _forked(log: ToyLog) -> list[bytes]:
    forked = list(log.leaves)
    forked[2] = b"\x07" * 32  # leaf 2 rewritten, the rest the same
    return forked


BAD = {
    "unknown origin": (404, lambda log: log.body(6, 10, note=ToyLog("other.example/log").note(10))),
    "unsigned by the log's key": (403, lambda log: log.body(6, 10, note=ToyLog(log.origin).note(10))),
    # The log's own signature over size 10, put under a text that says 11.
    "log signature broken": (403, lambda log: log.body(6, 10, note=log.note(10).replace("\n10\n", "\n11\n"))),
    "old size above the size": (400, lambda log: log.body(10, 6, proof=[])),
    "forked history, same size": (422, lambda log: log.body(6, 6, leaves=_forked(log))),
    "forked history, larger size": (422, lambda log: log.body(6, 10, leaves=_forked(log))),
    "proof of another tree": (422, lambda log: log.body(6, 10, proof=[b"\x01" * 32, b"\x02" * 32])),
    "empty proof": (422, lambda log: log.body(6, 10, proof=[])),
    "no old line": (400, lambda log: log.body(6, 10).replace(b"old 6", b"old  6")),
    "leading zero in old": (400, lambda log: log.body(6, 10).replace(b"old 6", b"old 06")),
    "proof line not base64": (400, lambda log: log.body(6, 10).replace(b"\n", b"\n!!!!\n", 1)),
    "no blank line": (400, lambda log: b"old 6\n" + log.note(10).replace("\n\n", "\n").encode()),
    "not utf-8": (400, lambda log: log.body(6, 10).replace(b"old 6\n", b"old 6\n\xff\n")),
    "checkpoint without signature": (400, lambda log: b"old 6\n\n" + log.checkpoint_text(10).encode()),
    "too many proof lines": (400, lambda log: log.body(6, 10, proof=[b"\x01" * 32] * 64)),
    "oversize body": (413, lambda log: log.body(6, 10) + b"x" * MAX_BODY_BYTES),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_a_clear_4xx_and_changes_nothing(witness, log, case):
    config, client = witness
    assert _post(client, log.body(0, 6)).status_code == 200
    before = _state_files(config.directory)
    status, make = BAD[case]
    response = _post(client, make(log))
    assert response.status_code == status, response.text
    assert response.text.strip()  # says what is wrong
    assert _state_files(config.directory) == before


def test_size_zero_needs_the_empty_root(witness, log):
    _, client = witness
    bad = log.signer.sign(Checkpoint(log.origin, 0, b"\x01" * 32).text())
    assert _post(client, b"old 0\n\n" + bad.encode()).status_code == 422
    good = log.signer.sign(Checkpoint(log.origin, 0, EMPTY_ROOT).text())
    assert _post(client, b"old 0\n\n" + good.encode()).status_code == 200


def test_a_rotated_log_key_is_trusted_once_added(tmp_path, log):
    directory = tmp_path / "w"
    witness_config.init_dir(directory, "witness.example/w")
    witness_config.add_log(directory, log.origin, log.signer.verifier.vkey())
    new = ToyLog(log.origin, Ed25519PrivateKey.generate())
    new.leaves = log.leaves
    witness_config.add_log(directory, log.origin, new.signer.verifier.vkey())
    client = create_app(witness_config.load(directory)).test_client()
    assert _post(client, new.body(0, 5)).status_code == 200


def test_init_refuses_to_replace_a_key(tmp_path):
    witness_config.init_dir(tmp_path / "w", "witness.example/w")
    with pytest.raises(witness_config.ConfigError, match="keeps its key"):
        witness_config.init_dir(tmp_path / "w", "witness.example/w")
