"""Three witnesses as separate `wallet-witness` processes over HTTP, on both databases: a normal round
reaches 2-of-3 (here 3 of 3), one witness down still reaches 2-of-3 and comes back with a proof from where it
stopped, and a forked history (the national log rebuilt from a rewritten school checkpoint and re-signed
with the operator's own key, a different root for a size already cosigned) is refused by every witness
and reported as a fork."""

from __future__ import annotations

import hashlib

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import text

from cli.main import cli
from tests.integration.test_ledger_verify import _append, _build, _entry, triggers_off
from tests.witness_process import WitnessProcess
from wallet.db import transaction
from wallet.ledger.checkpoints import make_checkpoints
from wallet.ledger.signing import SigningKey
from wallet.witnessing.national import log_vkey

pytestmark = pytest.mark.slow
ORIGIN = "meals.test.kz/ledger"


@pytest.fixture
def witnesses(tmp_path):  # type: ignore[no-untyped-def]
    started = [WitnessProcess(tmp_path / f"w{i}", f"witness.test/w{i}") for i in (1, 2, 3)]
    yield started
    for witness in started:
        witness.kill9()


def _env(database_url, key_path, witnesses, tmp_path):  # type: ignore[no-untyped-def]
    return {
        "WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_SIGNING_KEY": str(key_path),
        "WALLET_INSTANCE_PATH": str(tmp_path / "instance"), "WALLET_WITNESS_LOG_ORIGIN": ORIGIN,
        "WALLET_WITNESS_QUORUM": "2", "WALLET_WITNESS_TIMEOUT_S": "2",
        "WALLET_WITNESS_LIST": ", ".join(f"{w.url} {w.cosigner.verifier.vkey()}" for w in witnesses),
    }


def _collect(env):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["witness", "collect"], env=env)
    return result.exit_code, result.output


def test_three_witnesses_quorum_outage_and_fork(engine, session_factory, tmp_path, witnesses):
    key = SigningKey.generate()
    key_path = tmp_path / "signing.pem"
    key_path.write_bytes(key.to_pem())
    for witness in witnesses:
        witness.trust(ORIGIN, log_vkey(ORIGIN, key))
        witness.start()
    env = _env(engine.url.render_as_string(hide_password=False), key_path, witnesses, tmp_path)
    school_a = _build(session_factory, "123456789012")
    _build(session_factory, "210987654321", device_offset=100)

    # A normal round: every witness cosigns the head over both schools' checkpoints.
    make_checkpoints(session_factory, key)
    code, out = _collect(env)
    assert code == 0, out
    assert "WITNESSED national head of size 2: 3 of 3 cosigned, quorum 2" in out

    # One witness down: 2 of 3 is still the quorum; its absence is named.
    witnesses[2].kill9()
    with transaction(session_factory) as session:
        _append(session, school_a, [_entry(50 + i) for i in range(3)])
    make_checkpoints(session_factory, key)
    code, out = _collect(env)
    assert code == 0, out
    assert "WITNESSED national head of size 3: 2 of 3 cosigned" in out
    assert "witness.test/w3: unreachable" in out
    status = CliRunner().invoke(cli, ["witness", "status"], env=env).output
    assert "national head size 3: witnessed (2 of 3 cosigned, quorum 2)" in status
    assert "witness.test/w3: unreachable" in status

    # Back up, it is asked from the size it last cosigned (2) to the new head (4).
    witnesses[2].start()
    with transaction(session_factory) as session:
        _append(session, school_a, [_entry(60)])
    make_checkpoints(session_factory, key)
    code, out = _collect(env)
    assert code == 0, out
    assert "3 of 3 cosigned" in out
    cosigned_root = {w.name: _served_root(w) for w in witnesses}

    # The fork: an insider rewrites a school checkpoint and the national log, and re-signs with our key.
    for table in ("cosignatures", "national_checkpoints", "national_log_leaves", "checkpoints"):
        with triggers_off(engine, table), engine.begin() as conn:
            if table == "checkpoints":
                conn.execute(text("UPDATE checkpoints SET root_hash = :r WHERE id = (SELECT MIN(id) FROM checkpoints)"),
                             {"r": b"\x66" * 32})
            else:
                conn.execute(text(f"DELETE FROM {table}"))
    code, out = _collect(env)
    assert code == 1, out
    assert "NOT WITNESSED national head of size 4: 0 of 3 cosigned" in out
    for witness in witnesses:
        assert f"{witness.name}: refused (HTTP 422)" in out
        assert _served_root(witness) == cosigned_root[witness.name]  # each still holds the true history
    assert "FORK SUSPECTED" in out
    # The rewrite is consistent in itself: only the witnesses' memory catches it.
    verified = CliRunner().invoke(cli, ["witness", "verify"], env=env)
    assert verified.exit_code == 0 and "OK national log: 4 leaves" in verified.output, verified.output


def _served_root(witness: WitnessProcess) -> str:
    origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
    response = requests.get(f"{witness.url}/{origin_hash}/checkpoint", timeout=5)
    assert response.status_code == 200
    return response.text.split("\n")[2]
