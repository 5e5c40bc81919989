"""kill -9 trials of a real `wallet-witness serve`: two forks of one log, both signed by the log's key and
each consistent with what the witness last cosigned, race at the same size while the witness is killed at
random moments. Across every trial and restart the witness never cosigns two roots for one size, and every
cosignature it returned verifies."""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time

import pytest
import requests

from tests.witness_log import ToyLog
from tests.witness_process import WitnessProcess
from tlog import note
from tlog.checkpoint import parse_checkpoint
from tlog.cosignature import verify_cosignature
from wallet.ledger import merkle

pytestmark = pytest.mark.slow
TRIALS = 12


def _post(url: str, body: bytes) -> requests.Response | None:
    try:
        return requests.post(f"{url}/add-checkpoint", data=body, timeout=5)
    except requests.RequestException:
        return None  # killed mid-request


def _known_size(url: str, log: ToyLog) -> int:
    response = _post(url, log.body(0, 0, leaves=[]))
    assert response is not None
    if response.status_code == 200:
        return 0
    assert response.status_code == 409, response.text
    return int(response.text)


def test_kill9_during_add_checkpoint_never_gives_two_roots_for_one_size(tmp_path):
    rng = random.Random(int.from_bytes(os.urandom(4)))
    log = ToyLog()
    witness = WitnessProcess(tmp_path / "w", "witness.example/crash")
    witness.trust(log.origin, log.signer.verifier.vkey())
    cosigned: dict[int, set[bytes]] = {}
    history: dict[bytes, list[bytes]] = {merkle.root_hash([]): []}  # root -> leaves, for every fork sent
    witness.start()
    try:
        for trial in range(TRIALS):
            known = _known_size(witness.url, log)
            state = witness.directory / "logs"
            base = next(h for h in history.values() if len(h) == known and _is_state(state, h))
            forks = [base + [merkle.leaf_hash(f"{trial}-{side}-{i}".encode()) for i in range(rng.randint(1, 9))]
                     for side in "ab"]
            forks[1] = forks[1][: len(forks[0])] + forks[0][len(forks[1]):]  # same size, different leaves
            for fork in forks:
                history[merkle.root_hash(fork)] = fork
            bodies = [log.body(known, leaves=f) for f in forks] * 3
            results: list[requests.Response | None] = []
            threads = [threading.Thread(target=lambda b=b, out=results: out.append(_post(witness.url, b)))
                       for b in bodies]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0, 0.03))
            witness.kill9()
            for thread in threads:
                thread.join()
            for response in results:
                if response is not None and response.status_code == 200:
                    _record(cosigned, witness, bodies, response.text)
            witness.start()
            # After the restart, offer both forks again from the size the witness now knows.
            known = _known_size(witness.url, log)
            for fork in forks:
                if len(fork) < known:
                    continue
                response = _post(witness.url, log.body(known, leaves=fork))
                if response is not None and response.status_code == 200:
                    _record(cosigned, witness, [log.body(known, leaves=fork)], response.text)
        assert all(len(roots) == 1 for roots in cosigned.values()), cosigned
        assert cosigned, "no trial got a cosignature: the kills came too early every time"
    finally:
        witness.kill9()


def _is_state(state_dir, leaves):  # type: ignore[no-untyped-def]
    """Is `leaves` the history whose root the witness has on disk?"""
    files = list(state_dir.glob("*.json"))
    if not files:
        return not leaves
    data = json.loads(files[0].read_text())
    return base64.b64decode(data["rootHash"]) == merkle.root_hash(leaves)


def _record(cosigned, witness, bodies, line):  # type: ignore[no-untyped-def]
    """Find the checkpoint this cosignature is over (it verifies over exactly one text) and note its root."""
    _, (sig,) = note.split("x\n\n" + line)
    for body in bodies:
        text = note.split(body.decode().partition("\n\n")[2])[0]
        try:
            verify_cosignature(text, sig, witness.cosigner.verifier)
        except note.NoteError:
            continue
        checkpoint = parse_checkpoint(text)
        cosigned.setdefault(checkpoint.size, set()).add(checkpoint.root_hash)
        return
    raise AssertionError("a cosignature that verifies over none of the checkpoints sent")


def test_bad_input_over_http_is_a_clear_4xx_and_writes_nothing(tmp_path):
    log = ToyLog()
    log.append(b"a", b"b", b"c")
    witness = WitnessProcess(tmp_path / "w", "witness.example/http")
    witness.trust(log.origin, log.signer.verifier.vkey())
    witness.start()
    try:
        url = f"{witness.url}/add-checkpoint"
        oversize = requests.post(url, data=b"old 0\n\n" + b"x" * (70 * 1024), timeout=5)
        chunked = requests.post(url, data=iter([b"old 0\n\n", b"x" * (70 * 1024)]), timeout=5)
        malformed = requests.post(url, data=b"old zero\n\n" + log.note().encode(), timeout=5)
        wrong_method = requests.get(url, timeout=5)
        assert [r.status_code for r in (oversize, chunked, malformed, wrong_method)] == [413, 413, 400, 405]
        assert all(r.text.strip() for r in (oversize, malformed))
        assert not list((witness.directory / "logs").glob("*.json"))
        assert requests.post(url, data=log.body(0), timeout=5).status_code == 200
    finally:
        witness.kill9()
