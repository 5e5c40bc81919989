"""The hash chain over a school's ledger entries.

Each entry's chain hash commits to every entry before it, so changing, dropping or reordering any past
entry changes every later chain hash. The Merkle tree over the same leaves adds compact proofs; the chain
gives a verifier a simple linear check that names the first entry that does not match.
"""

from __future__ import annotations

import hashlib

from wallet.ledger.merkle import HASH_SIZE

__all__ = ["GENESIS_CHAIN_HASH", "next_chain_hash"]

# The "previous chain hash" of a school's first entry: 32 zero bytes, fixed so every verifier agrees.
GENESIS_CHAIN_HASH = bytes(HASH_SIZE)


def next_chain_hash(prev_chain_hash: bytes, leaf_hash: bytes) -> bytes:
    """chain_hash_n = SHA-256(chain_hash_{n-1} || leaf_hash_n)."""
    # Both inputs are fixed-size, so the concatenation is unambiguous; check sizes to catch a hex string
    # or a truncated value before it is hashed into the chain for good.
    for name, value in (("prev_chain_hash", prev_chain_hash), ("leaf_hash", leaf_hash)):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ValueError(f"{name} must be {HASH_SIZE} bytes")
    return hashlib.sha256(prev_chain_hash + leaf_hash).digest()
