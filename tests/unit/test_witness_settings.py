"""WALLET_WITNESS_* settings: a list of witnesses with their keys, a quorum within it, clear errors otherwise."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.cosignature import Cosigner
from tlog.note import NoteSigner
from wallet.config import ConfigError, settings_from_env


def _vkey(name: str) -> str:
    return Cosigner(name, Ed25519PrivateKey.generate()).verifier.vkey()


def test_a_list_of_witnesses_with_a_default_majority():
    env = {"WALLET_WITNESS_LIST": f"http://a.test {_vkey('w.test/a')}, http://b.test/ {_vkey('w.test/b')},"
                                  f"http://c.test {_vkey('w.test/c')}"}
    policy = settings_from_env(env).witness_policy
    assert [w.name for w in policy.witnesses] == ["w.test/a", "w.test/b", "w.test/c"]
    assert policy.witnesses[1].url == "http://b.test"
    assert policy.quorum == 2
    assert "2 of 3" in policy.describe()


def test_no_witnesses_is_off():
    assert not settings_from_env({}).witness_policy.enabled


@pytest.mark.parametrize(("env", "message"), [
    ({"WALLET_WITNESS_LIST": "http://a.test"}, "URL VKEY"),
    ({"WALLET_WITNESS_LIST": "ftp://a.test KEY"}, "http"),
    ({"WALLET_WITNESS_LIST": "http://a.test not-a-vkey"}, "verifier key"),
    ({"WALLET_WITNESS_LIST": f"http://a.test {_vkey('w/a')}", "WALLET_WITNESS_QUORUM": "2"}, "QUORUM must be 1 to 1"),
    ({"WALLET_WITNESS_QUORUM": "1"}, "LIST is empty"),
    ({"WALLET_WITNESS_LIST": f"http://a.test {_vkey('w/a')}", "WALLET_WITNESS_TIMEOUT_S": "0"}, "TIMEOUT_S"),
    ({"WALLET_WITNESS_LOG_ORIGIN": "has space"}, "LOG_ORIGIN"),
    # A log's signing key (0x01) is not a witness's cosigning key (0x04).
    ({"WALLET_WITNESS_LIST": "http://a.test "
      + NoteSigner("w/a", Ed25519PrivateKey.generate()).verifier.vkey()}, "cosignature"),
])
def test_bad_witness_settings_are_refused_with_a_clear_message(env, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_env(env)


def test_production_wants_https_witnesses_and_its_own_log_origin():
    from wallet.witness_settings import WitnessConfigError, policy_from_env

    vkey = _vkey("w.test/a")
    with pytest.raises(WitnessConfigError, match="https"):
        policy_from_env({"WALLET_WITNESS_LIST": f"http://a.test {vkey}"}, production=True)
    with pytest.raises(WitnessConfigError, match="LOG_ORIGIN is required"):
        policy_from_env({"WALLET_WITNESS_LIST": f"https://a.test {vkey}"}, production=True)
    policy = policy_from_env({"WALLET_WITNESS_LIST": f"https://a.test {vkey}",
                              "WALLET_WITNESS_LOG_ORIGIN": "meals.gov.kz/ledger"}, production=True)
    assert policy.quorum == 1 and policy.log_origin == "meals.gov.kz/ledger"
