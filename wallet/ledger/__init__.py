"""The tamper-evident ledger.

The names exported here are pure cryptography (canonical bytes, RFC 6962 Merkle trees, the hash chain,
signed checkpoints), with no database and no web framework, so outside auditors can use the same code.
The modules that touch the database sit beside them: append (writing entries), checkpoints, verify, voids.
"""

from wallet.ledger.canonical import NotCanonicalError, canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from wallet.ledger.signing import (
    CHECKPOINT_FORMAT,
    SigningKey,
    checkpoint_body,
    key_id_for,
    sign_checkpoint,
    verify_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "EMPTY_ROOT",
    "GENESIS_CHAIN_HASH",
    "CompactRange",
    "NotCanonicalError",
    "SigningKey",
    "canonical_bytes",
    "checkpoint_body",
    "consistency_proof",
    "inclusion_proof",
    "key_id_for",
    "leaf_hash",
    "next_chain_hash",
    "node_hash",
    "root_hash",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
