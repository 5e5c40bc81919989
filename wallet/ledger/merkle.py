"""RFC 6962 Merkle tree hashing over SHA-256, with the RFC 9162 proof verification algorithms.

A school's chain of ledger entries is also the leaf sequence of a Merkle tree. Its signed tree head lets an
outsider check one entry (inclusion proof) or that history was only appended to (consistency proof)
without reading the whole database.

Generation functions (`root_hash`, `inclusion_proof`, `consistency_proof`) work on the list of leaf hashes
and raise `ValueError` on bad arguments: they run on our own data, so bad input is a bug. Verification
functions take data from outside and return False, never raise, on anything malformed.

Everything is iterative (level by level), so trees of millions of leaves need no deep recursion.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
# RFC 6962 section 2.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
# Tree sizes and indexes are uint64 on the wire (RFC 9162); anything larger is malformed.
MAX_TREE_SIZE = 2**64 - 1
_MAX_PROOF_ITEMS = 65

# Distinct prefixes for leaves and interior nodes prevent second-preimage attacks (RFC 6962 section 2.1).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf (for us, the canonical bytes of one ledger entry)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        # bytes(n) of an int would silently hash n zero bytes, so refuse anything not bytes-like.
        raise TypeError(f"leaf data must be bytes, not {type(data).__name__}")
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    _require_hash(left, "left")
    _require_hash(right, "right")
    return _node(left, right)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (RFC 6962 MTH) of the tree whose leaves have these hashes."""
    level = _checked_leaf_hashes(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path (RFC 6962 PATH) for leaf `index` (0-based) in the tree of all `leaf_hashes`.

    The proof lists sibling hashes from the leaf upwards, as RFC 6962/9162 verifiers expect.
    """
    level = _checked_leaf_hashes(leaf_hashes)
    _require_index(index, len(level), "index")
    proof: list[bytes] = []
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        # The last node of an odd-length level has no sibling: it is carried up unchanged, which is
        # exactly how RFC 6962's "largest power of two smaller than n" split shapes the tree.
        if sibling < len(level):
            proof.append(level[sibling])
        level = _next_level(level)
        position //= 2
    return proof


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The consistency proof (RFC 6962 PROOF) from the first `old_size` leaves to all `leaf_hashes`.

    Proofs from the empty tree and to the same size are empty: there is nothing to prove.
    """
    hashes = _checked_leaf_hashes(leaf_hashes)
    new_size = len(hashes)
    if not _is_size(old_size) or old_size > new_size:
        raise ValueError(f"old_size must be an integer in [0, {new_size}], got {old_size!r}")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Does `proof` show that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves with `root`?

    RFC 9162 section 2.1.3.2. Note that a proof does not by itself bind `tree_size`: a proof for leaf i of
    a tree of size n can also pass for some other sizes with the same shape around leaf i. The signed
    checkpoint binds (tree size, root) together; always verify against a signed pair.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size) and index < tree_size):
        return False
    fn, sn = index, tree_size - 1
    computed = leaf_hash
    for sibling in proof:
        if sn == 0:
            return False  # more proof items than levels
        if fn & 1 or fn == sn:
            computed = _node(sibling, computed)
            if not fn & 1:
                # Right edge of the tree: skip the levels where this node has no sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = _node(computed, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(computed, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Does `proof` show that the tree (`new_size`, `new_root`) extends the tree (`old_size`, `old_root`)?

    RFC 9162 section 2.1.4.2. Two edge cases: equal sizes need an empty proof and equal roots; from the
    empty tree the proof must be empty and `old_root` must be the empty-tree hash, and then any
    `new_root` is consistent (every tree extends the empty one).
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not proof:
        return False
    return _verify_consistency_path(old_size, new_size, old_root, new_root, list(proof))


class CompactRange:
    """The Merkle frontier of a growing tree: the roots of its perfect subtrees, largest (leftmost) first.

    A tree of n leaves has one perfect subtree per set bit of n, so this holds at most 64 hashes, and
    appending a leaf costs O(log n) hashes. A chain head row can keep it (see `to_bytes`) and so keep the
    tree root current without ever reading old leaves.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if not _is_size(size):
            raise ValueError(f"size must be an integer in [0, 2**64), got {size!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a range of size {size} has {size.bit_count()} subtree hashes, got {len(hashes)}"
            )
        for position, item in enumerate(hashes):
            _require_hash(item, f"hashes[{position}]")
        self._size = size
        self._hashes = [bytes(item) for item in hashes]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> CompactRange:
        compact = cls()
        for item in _checked_leaf_hashes(leaf_hashes):
            compact.append(item)
        return compact

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf; merges equal-sized subtrees like a binary counter carrying."""
        _require_hash(leaf_hash, "leaf_hash")
        if self._size >= MAX_TREE_SIZE:
            raise ValueError("tree is full")
        self._hashes.append(leaf_hash)
        carry = self._size
        while carry & 1:
            right = self._hashes.pop()
            left = self._hashes.pop()
            self._hashes.append(_node(left, right))
            carry >>= 1
        self._size += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the tree so far: fold the subtree roots from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        computed = self._hashes[-1]
        for subtree in reversed(self._hashes[:-1]):
            computed = _node(subtree, computed)
        return computed

    def to_bytes(self) -> bytes:
        """8-byte big-endian size followed by the subtree hashes; at most 8 + 64 * 32 bytes."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < 8:
            raise ValueError("compact range bytes are too short")
        data = bytes(data)
        size = int.from_bytes(data[:8], "big")
        body = data[8:]
        if len(body) != size.bit_count() * HASH_SIZE:
            raise ValueError(f"compact range of size {size} needs {size.bit_count() * HASH_SIZE} hash bytes")
        hashes = [body[start : start + HASH_SIZE] for start in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# --- internals ------------------------------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    parents = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) & 1:
        parents.append(level[-1])
    return parents


def _subtree_root(hashes: list[bytes], start: int, end: int) -> bytes:
    level = hashes[start:end]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _largest_power_of_two_below(n: int) -> int:
    # For n >= 2: the k with k < n <= 2k, RFC 6962's split point.
    return 1 << ((n - 1).bit_length() - 1)


def _subproof(old_size: int, hashes: list[bytes]) -> list[bytes]:
    # RFC 6962 SUBPROOF(m, D[n], b) unrolled into a loop: each step narrows [start, end) to one child
    # and records the other child's hash; the recorded hashes come out root-first, so reverse at the end.
    start, end, m, old_is_whole_root = 0, len(hashes), old_size, True
    reversed_proof: list[bytes] = []
    while m != end - start:
        split = _largest_power_of_two_below(end - start)
        if m <= split:
            reversed_proof.append(_subtree_root(hashes, start + split, end))
            end = start + split
        else:
            reversed_proof.append(_subtree_root(hashes, start, start + split))
            start += split
            m -= split
            old_is_whole_root = False
    if not old_is_whole_root:
        # The old tree's root is not a node of the new tree's left spine, so the verifier needs it.
        reversed_proof.append(_subtree_root(hashes, start, end))
    reversed_proof.reverse()
    return reversed_proof


def _verify_consistency_path(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    # RFC 9162 section 2.1.4.2, step by step.
    if old_size & (old_size - 1) == 0:
        proof = [old_root, *proof]  # old tree is perfect: its root is a node of the new tree
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = proof[0]
    for item in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_computed = _node(item, old_computed)
            new_computed = _node(item, new_computed)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_computed = _node(new_computed, item)
        fn >>= 1
        sn >>= 1
    return (
        sn == 0
        and hmac.compare_digest(old_computed, old_root)
        and hmac.compare_digest(new_computed, new_root)
    )


def _is_hash(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: Any) -> bool:
    # bool is an int subclass; True as a tree size is a bug, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TREE_SIZE


def _is_proof(value: Any) -> bool:
    # Every proof item but a consistency proof's first halves sn (< 2**64), so a longer proof can never
    # verify; refusing it up front also caps the work an outsider can make us do.
    return (
        isinstance(value, list | tuple)
        and len(value) <= _MAX_PROOF_ITEMS
        and all(_is_hash(item) for item in value)
    )


def _require_hash(value: Any, name: str) -> None:
    if not _is_hash(value):
        raise ValueError(f"{name} must be {HASH_SIZE} bytes")


def _require_index(index: Any, size: int, name: str) -> None:
    if not _is_size(index) or index >= size:
        raise ValueError(f"{name} must be an integer in [0, {size}), got {index!r}")


def _checked_leaf_hashes(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    hashes = list(leaf_hashes)
    for position, item in enumerate(hashes):
        if not _is_hash(item):
            raise ValueError(f"leaf_hashes[{position}] must be {HASH_SIZE} bytes")
    return hashes
