"""RFC 6962 Merkle tree: published vectors, properties, malformed input, CompactRange."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

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

# Reference vectors from google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc
# (kInputs, kSHA256Roots, kSHA256Paths, kSHA256Proofs). That file numbers leaves from 1; we use 0-based
# indexes, so its "leaf 1" is our index 0.
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CT_ROOTS = [  # root of the tree of the first 1, 2, ..., 8 inputs
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = [  # (0-based index, tree size, audit path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_PROOFS = [  # (old size, new size, consistency proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CT_LEAVES = [leaf_hash(data) for data in CT_INPUTS]
OTHER_HASH = hashlib.sha256(b"not in any tree").digest()


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def _leaves(count: int, salt: bytes = b"") -> list[bytes]:
    # Distinct leaves: with duplicates, a proof for one position is honestly valid for its twin too.
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(count)]


# --- published vectors ----------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing():
    assert root_hash([]).hex() == CT_EMPTY_ROOT
    assert EMPTY_ROOT.hex() == CT_EMPTY_ROOT
    assert CompactRange().root().hex() == CT_EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_reference(size):
    assert root_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]
    assert CompactRange.from_leaf_hashes(CT_LEAVES[:size]).root().hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_inclusion_paths_match_reference(index, size, path):
    assert _hexes(inclusion_proof(index, CT_LEAVES[:size])) == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    proof = [bytes.fromhex(h) for h in path]
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_PROOFS)
def test_consistency_proofs_match_reference(old_size, new_size, proof):
    assert _hexes(consistency_proof(old_size, CT_LEAVES[:new_size])) == proof
    old_root = bytes.fromhex(CT_ROOTS[old_size - 1])
    new_root = bytes.fromhex(CT_ROOTS[new_size - 1])
    assert verify_consistency(old_size, new_size, old_root, new_root, [bytes.fromhex(h) for h in proof])


def test_leaf_and_node_hash_prefixes():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


# --- exhaustive small trees (mirrors the reference test's mutations) ------------------------------


def _assert_inclusion_tampering_fails(leaves: list[bytes], index: int) -> None:
    size = len(leaves)
    root = root_hash(leaves)
    proof = inclusion_proof(index, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, root)
    assert not verify_inclusion(OTHER_HASH, index, size, proof, root)
    assert not verify_inclusion(leaves[index], index, size, proof, _flip(root))
    for other in {index - 1, index + 1, index ^ 2, size, -1} - {index}:
        assert not verify_inclusion(leaves[index], other, size, proof, root)
    # Doubling or halving the size always changes the path's shape; see verify_inclusion's docstring
    # for why some other sizes can share it.
    assert not verify_inclusion(leaves[index], index, size * 2, proof, root)
    assert not verify_inclusion(leaves[index], index, size // 2, proof, root)
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = _flip(tampered[position])
        assert not verify_inclusion(leaves[index], index, size, tampered, root)
    assert not verify_inclusion(leaves[index], index, size, [*proof, root], root)
    assert not verify_inclusion(leaves[index], index, size, [root, *proof], root)
    if proof:
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)


def _assert_consistency_tampering_fails(leaves: list[bytes], old_size: int) -> None:
    new_size = len(leaves)
    old_root, new_root = root_hash(leaves[:old_size]), root_hash(leaves)
    proof = consistency_proof(old_size, leaves)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    assert not verify_consistency(old_size, new_size, _flip(old_root), new_root, proof)
    if old_size > 0:  # every tree extends the empty tree, whatever its root
        assert not verify_consistency(old_size, new_size, old_root, _flip(new_root), proof)
    if not proof:
        return
    assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
    for other in {old_size - 1, old_size + 1, old_size ^ 2} - {old_size}:
        assert not verify_consistency(other, new_size, old_root, new_root, proof)
    assert not verify_consistency(old_size, new_size * 2, old_root, new_root, proof)
    assert not verify_consistency(old_size, new_size // 2, old_root, new_root, proof)
    assert not verify_consistency(old_size, new_size, old_root, new_root, [])
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = _flip(tampered[position])
        assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
    assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, proof[-1]])
    assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
    assert not verify_consistency(old_size, new_size, old_root, new_root, [proof[0], *proof])


def test_every_inclusion_proof_in_small_trees():
    leaves = _leaves(64)
    for size in range(1, 65):
        for index in range(size):
            _assert_inclusion_tampering_fails(leaves[:size], index)


def test_every_consistency_proof_in_small_trees():
    leaves = _leaves(64)
    for new_size in range(0, 65):
        for old_size in range(0, new_size + 1):
            _assert_consistency_tampering_fails(leaves[:new_size], old_size)


# --- properties -----------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=300, unique=True).map(
    lambda items: [leaf_hash(item) for item in items]
)


@given(leaves=leaf_lists, data=st.data())
def test_inclusion_proofs_verify_and_tampering_fails(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    _assert_inclusion_tampering_fails(leaves, index)
    # Any other position, not only the neighbours the reference test tries.
    other = data.draw(st.integers(0, len(leaves) - 1), label="other")
    if other != index:
        proof = inclusion_proof(index, leaves)
        assert not verify_inclusion(leaves[index], other, len(leaves), proof, root_hash(leaves))


@given(leaves=leaf_lists, data=st.data())
def test_consistency_proofs_verify_and_tampering_fails(leaves, data):
    old_size = data.draw(st.integers(0, len(leaves)), label="old_size")
    _assert_consistency_tampering_fails(leaves, old_size)


@given(leaves=st.lists(st.binary(max_size=8), max_size=200).map(lambda items: [leaf_hash(i) for i in items]))
def test_compact_range_root_equals_root_hash_for_every_prefix(leaves):
    compact = CompactRange()
    assert compact.root() == root_hash([])
    for count, item in enumerate(leaves, start=1):
        compact.append(item)
        assert compact.size == count
        assert compact.root() == root_hash(leaves[:count])
        assert CompactRange.from_bytes(compact.to_bytes()) == compact


# --- malformed input never raises from verification -----------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.binary(min_size=31, max_size=33), max_size=70),
    st.lists(st.integers(), max_size=3),
)


@given(args=st.tuples(junk, junk, junk, junk, junk))
def test_verify_inclusion_never_raises(args):
    assert verify_inclusion(*args) in (True, False)


@given(args=st.tuples(junk, junk, junk, junk, junk))
def test_verify_consistency_never_raises(args):
    assert verify_consistency(*args) in (True, False)


def test_malformed_proofs_are_false():
    leaves = CT_LEAVES
    root = root_hash(leaves)
    proof = inclusion_proof(5, leaves)
    assert not verify_inclusion(leaves[5], 5, 8, [*proof[:-1], proof[-1][:31]], root)  # short item
    assert not verify_inclusion(leaves[5], 5, 8, [p.hex() for p in proof], root)  # hex, not bytes
    assert not verify_inclusion(leaves[5], 5, 8, b"".join(proof), root)  # not a list
    assert not verify_inclusion(leaves[5], True, 8, proof, root)  # bool is not an index
    assert not verify_inclusion(leaves[5], 5, 2**64, proof, root)  # beyond uint64
    assert not verify_inclusion(leaves[5][:31], 5, 8, proof, root)
    assert not verify_inclusion(leaves[5], 5, 8, [OTHER_HASH] * 65, root)
    assert not verify_consistency(6, 8, root, root, [b"x"])
    assert not verify_consistency(8, 6, root, root, [])  # time travel
    assert not verify_consistency(1, 2, CT_LEAVES[0], root, [])  # empty proof between different sizes
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])  # equal sizes, non-empty proof
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])


def test_generation_refuses_bad_arguments():
    with pytest.raises(ValueError):
        inclusion_proof(8, CT_LEAVES)
    with pytest.raises(ValueError):
        inclusion_proof(-1, CT_LEAVES)
    with pytest.raises(ValueError):
        consistency_proof(9, CT_LEAVES)
    with pytest.raises(ValueError):
        root_hash([b"short"])
    with pytest.raises(ValueError):
        node_hash(b"short", CT_LEAVES[0])
    with pytest.raises(TypeError):
        leaf_hash(5)  # type: ignore[arg-type]


# --- CompactRange ---------------------------------------------------------------------------------


def test_compact_range_holds_one_hash_per_set_bit():
    compact = CompactRange.from_leaf_hashes(_leaves(13))  # 13 = 0b1101
    assert len(compact.hashes) == 3
    assert len(compact.to_bytes()) == 8 + 3 * 32


def test_compact_range_resumes_from_bytes():
    leaves = _leaves(40)
    stored = CompactRange.from_leaf_hashes(leaves[:23]).to_bytes()
    resumed = CompactRange.from_bytes(stored)
    for item in leaves[23:]:
        resumed.append(item)
    assert resumed.root() == root_hash(leaves)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 7,
        (1).to_bytes(8, "big"),  # size 1 needs one hash
        (1).to_bytes(8, "big") + b"\x00" * 31,
        (0).to_bytes(8, "big") + b"\x00" * 32,  # size 0 has no hashes
        (3).to_bytes(8, "big") + b"\x00" * 32,  # size 3 needs two
    ],
)
def test_compact_range_from_bytes_refuses_malformed(data):
    with pytest.raises(ValueError):
        CompactRange.from_bytes(data)


def test_compact_range_refuses_bad_leaf():
    with pytest.raises(ValueError):
        CompactRange().append(b"short")


# --- size -----------------------------------------------------------------------------------------


def test_hundred_thousand_leaves():
    leaves = _leaves(100_000, salt=b"big")
    root = root_hash(leaves)
    compact = CompactRange()
    for item in leaves:
        compact.append(item)
    assert compact.root() == root
    index = 77_777
    assert verify_inclusion(leaves[index], index, len(leaves), inclusion_proof(index, leaves), root)
    old_size = 65_537
    proof = consistency_proof(old_size, leaves)
    assert verify_consistency(old_size, len(leaves), root_hash(leaves[:old_size]), root, proof)
