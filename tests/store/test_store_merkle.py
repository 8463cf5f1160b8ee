"""RFC 9162 / RFC 6962 Merkle trees against the definitions and the published CT test vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError
from skyfence.store.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# The leaves every Certificate Transparency implementation tests with (RFC 6962 test data).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
# Published roots for the first 1..8 leaves (certificate-transparency merkle_tree_test).
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


# --- an independent, naive implementation straight from RFC 9162 §2.1 ----------------------
def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    if len(d) == 0:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = _k(len(d))
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = _k(n)
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    return naive_subproof(m, d, True)


# --- tests ------------------------------------------------------------------------------------
def test_empty_tree_root_is_sha256_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MemoryTree().root() == EMPTY_ROOT == naive_mth([])


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_vector_roots(size):
    tree = MemoryTree(leaf_hash(d) for d in CT_LEAVES[:size])
    assert tree.root().hex() == CT_ROOTS[size - 1]
    assert naive_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]
    assert (
        root_from_leaf_hashes([leaf_hash(d) for d in CT_LEAVES[:size]]).hex() == CT_ROOTS[size - 1]
    )


def test_ct_vector_proofs():
    tree = MemoryTree(leaf_hash(d) for d in CT_LEAVES)
    # published inclusion proof of leaf 5 in the tree of 8, and consistency proofs
    assert [h.hex() for h in tree.inclusion_proof(5, 8)] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [h.hex()[:8] for h in tree.inclusion_proof(0, 8)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [h.hex()[:8] for h in tree.consistency_proof(1, 8)] == [
        "96a296d2",
        "5f083f0a",
        "6b47aaf2",
    ]
    assert [h.hex()[:8] for h in tree.consistency_proof(6, 8)] == [
        "0ebc5d34",
        "ca854ea1",
        "d37ee418",
    ]
    assert [h.hex()[:8] for h in tree.consistency_proof(2, 5)] == ["5f083f0a", "bc1a0643"]


def test_proofs_match_the_rfc_definitions_for_every_small_tree():
    for n in range(1, 34):
        data = [bytes([i, i * 7 % 256]) for i in range(n)]
        tree = MemoryTree(leaf_hash(d) for d in data)
        root = naive_mth(data)
        assert tree.root() == root
        for m in range(n):
            path = tree.inclusion_proof(m)
            assert path == naive_path(m, data)
            assert verify_inclusion(leaf_hash(data[m]), m, n, path, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == naive_proof(m, data)
            assert verify_consistency(m, n, naive_mth(data[:m]), root, proof)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.binary(max_size=8), min_size=1, max_size=70),
    picks=st.data(),
)
def test_every_proof_verifies_and_wrong_ones_fail(data, picks):
    tree = MemoryTree()
    for d in data:
        tree.append(leaf_hash(d))
    n = len(data)
    m = picks.draw(st.integers(0, n - 1))
    size = picks.draw(st.integers(m + 1, n))
    root = tree.root(size)
    path = tree.inclusion_proof(m, size)
    assert verify_inclusion(leaf_hash(data[m]), m, size, path, root)
    # a wrong leaf, a wrong index or a wrong root fails
    assert not verify_inclusion(leaf_hash(data[m] + b"x"), m, size, path, root)
    assert not verify_inclusion(leaf_hash(data[m]), m, size, path, _flip(root))
    if size > 1:
        other = (m + 1) % size
        if leaf_hash(data[other]) != leaf_hash(data[m]):
            assert not verify_inclusion(leaf_hash(data[m]), other, size, path, root)

    old = picks.draw(st.integers(1, n))
    new = picks.draw(st.integers(old, n))
    proof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    if old < new:
        assert not verify_consistency(old, new, _flip(old_root), new_root, proof)
        assert not verify_consistency(old, new, old_root, _flip(new_root), proof)
        if proof:
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])


def test_proof_arguments_out_of_range_raise():
    tree = MemoryTree(leaf_hash(d) for d in CT_LEAVES)
    with pytest.raises(InputError, match="no entry 8"):
        tree.inclusion_proof(8)
    with pytest.raises(InputError, match="old size <= new size"):
        tree.consistency_proof(5, 3)
    with pytest.raises(InputError, match="out of range"):
        tree.root(9)
    assert not verify_inclusion(leaf_hash(b""), 3, 3, [], EMPTY_ROOT)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]
