"""WALLET_WITNESS_* settings: the witnesses (URL and verifier key of each), the quorum, the timeout, and the
origin line of the national log.

    WALLET_WITNESS_LIST="https://w1.example/ witness.example/w1+1a2b3c4d+BKey...=, https://w2.example/ ..."
    WALLET_WITNESS_QUORUM=2        # k of n; default a majority of the list
    WALLET_WITNESS_TIMEOUT_S=5     # per request; a slow witness is counted as down, never waited for
    WALLET_WITNESS_LOG_ORIGIN=meals.gov.kz/ledger
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tlog.cosignature import COSIGNATURE_V1
from tlog.note import NoteError, Verifier, check_key_name, parse_vkey

__all__ = ["DEFAULT_LOG_ORIGIN", "WitnessPolicy", "WitnessSpec", "policy_from_env"]

DEFAULT_LOG_ORIGIN = "social-wallet.example/meal-ledger"
TIMEOUT_BOUNDS_S = (1, 60)


class WitnessConfigError(ValueError):
    """One line for the operator; wallet.config turns it into a ConfigError."""


@dataclass(frozen=True)
class WitnessSpec:
    url: str  # the submission prefix; add-checkpoint is POSTed to url + "/add-checkpoint"
    verifier: Verifier

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class WitnessPolicy:
    log_origin: str = DEFAULT_LOG_ORIGIN
    witnesses: tuple[WitnessSpec, ...] = ()
    quorum: int = 0
    timeout_s: int = 5

    @property
    def enabled(self) -> bool:
        return bool(self.witnesses)

    def describe(self) -> str:
        if not self.enabled:
            return f"witnesses: none configured (log origin {self.log_origin})"
        names = ", ".join(w.name for w in self.witnesses)
        return (f"witnesses: {self.quorum} of {len(self.witnesses)} ({names}); timeout {self.timeout_s} s; "
                f"log origin {self.log_origin}")


def policy_from_env(env: Mapping[str, str], *, production: bool) -> WitnessPolicy:
    origin = env.get("WALLET_WITNESS_LOG_ORIGIN", "").strip() or DEFAULT_LOG_ORIGIN
    try:
        check_key_name(origin)
    except NoteError as exc:
        raise WitnessConfigError(f"WALLET_WITNESS_LOG_ORIGIN: {exc}") from exc
    witnesses = tuple(_spec(item.strip(), production) for item in env.get("WALLET_WITNESS_LIST", "").split(",")
                      if item.strip())
    names = [w.name for w in witnesses]
    if len(set(names)) != len(names):
        raise WitnessConfigError("WALLET_WITNESS_LIST names one witness twice")
    if witnesses and production and origin == DEFAULT_LOG_ORIGIN:
        raise WitnessConfigError("WALLET_WITNESS_LOG_ORIGIN is required in production with witnesses")
    quorum = _int(env, "WALLET_WITNESS_QUORUM", len(witnesses) // 2 + 1 if witnesses else 0)
    if witnesses and not 1 <= quorum <= len(witnesses):
        raise WitnessConfigError(f"WALLET_WITNESS_QUORUM must be 1 to {len(witnesses)}, got {quorum}")
    if not witnesses and quorum:
        raise WitnessConfigError("WALLET_WITNESS_QUORUM is set but WALLET_WITNESS_LIST is empty")
    timeout = _int(env, "WALLET_WITNESS_TIMEOUT_S", WitnessPolicy.timeout_s)
    low, high = TIMEOUT_BOUNDS_S
    if not low <= timeout <= high:
        raise WitnessConfigError(f"WALLET_WITNESS_TIMEOUT_S must be {low}-{high} seconds, got {timeout}")
    return WitnessPolicy(origin, witnesses, quorum, timeout)


def _spec(item: str, production: bool) -> WitnessSpec:
    parts = item.split()
    if len(parts) != 2:
        raise WitnessConfigError("WALLET_WITNESS_LIST holds 'URL VKEY' pairs separated by commas")
    url, vkey = parts
    split = urlsplit(url)
    allowed = ("https",) if production else ("https", "http")
    if split.scheme not in allowed or not split.hostname:
        raise WitnessConfigError(f"a witness URL must be {' or '.join(allowed)}:// with a host, got {url!r}")
    try:
        verifier = parse_vkey(vkey)
    except NoteError as exc:
        raise WitnessConfigError(f"witness key {vkey!r}: {exc}") from exc
    if verifier.sig_type != COSIGNATURE_V1:
        raise WitnessConfigError(f"witness key {verifier.name} is not an Ed25519 cosignature (0x04) key")
    return WitnessSpec(url.rstrip("/"), verifier)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise WitnessConfigError(f"{name} must be a whole number, got {raw!r}") from exc
