"""A toy transparency log for witness tests: leaves in memory, checkpoints signed with a log key, and the
add-checkpoint request bodies a log would send (proofs from the service's own Merkle code)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.checkpoint import Checkpoint
from tlog.note import NoteSigner
from wallet.ledger import merkle


class ToyLog:
    def __init__(self, origin: str = "meals.example.kz/test-log", key: Ed25519PrivateKey | None = None) -> None:
        self.origin = origin
        self.signer = NoteSigner(origin, key or Ed25519PrivateKey.generate())
        self.leaves: list[bytes] = []

    def append(self, *data: bytes) -> None:
        self.leaves.extend(merkle.leaf_hash(d) for d in data)

    def checkpoint_text(self, size: int | None = None, leaves: list[bytes] | None = None) -> str:
        hashes = self.leaves if leaves is None else leaves
        n = len(hashes) if size is None else size
        return Checkpoint(self.origin, n, merkle.root_hash(hashes[:n])).text()

    def note(self, size: int | None = None, leaves: list[bytes] | None = None) -> str:
        return self.signer.sign(self.checkpoint_text(size, leaves))

    def body(self, old: int, size: int | None = None, *, leaves: list[bytes] | None = None,
             proof: list[bytes] | None = None, note: str | None = None) -> bytes:
        hashes = self.leaves if leaves is None else leaves
        n = len(hashes) if size is None else size
        if proof is None:
            proof = merkle.consistency_proof(old, hashes[:n]) if 0 < old <= n else []
        lines = [f"old {old}"] + [base64.b64encode(p).decode() for p in proof]
        return ("\n".join(lines) + "\n\n" + (note or self.note(n, hashes))).encode()
