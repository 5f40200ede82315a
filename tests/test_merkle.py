"""RFC 9162 Merkle trees: roots, inclusion and consistency proofs for every size up to 40."""

from __future__ import annotations

import hashlib

import pytest

from ledger import merkle
from ledger.hashing import node_hash
from ledger.merkle import MerkleProofError

SIZES = range(1, 41)


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


LEAVES = [leaf(f"leaf {i}".encode()) for i in range(max(SIZES))]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 section 2.1.1 (recursive split at the largest power of 2 < n)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_roots_match_the_rfc_definition():
    for n in range(0, max(SIZES) + 1):
        assert merkle.root(LEAVES[:n]) == reference_root(LEAVES[:n]), n


def test_certificate_transparency_reference_vectors():
    # The 8-leaf test tree of the RFC 6962 reference implementation (same hashing as RFC 9162).
    data = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    leaves = [leaf(d) for d in data]
    assert [merkle.root(leaves[:n]).hex() for n in range(1, 9)] == roots
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_every_inclusion_proof_verifies():
    for n in SIZES:
        tree, r = LEAVES[:n], merkle.root(LEAVES[:n])
        for i in range(n):
            proof = merkle.inclusion_proof(i, tree)
            merkle.verify_inclusion(i, n, tree[i], proof, r)


def _tampered_inclusion(i: int, n: int, tree: list[bytes], proof: list[bytes], r: bytes):
    bad_leaf = bytes(32)
    yield "wrong leaf", (i, n, bad_leaf, proof, r)
    yield "wrong root", (i, n, tree[i], proof, bytes(32))
    if n > 1:
        yield "wrong index", (i ^ 1 if (i ^ 1) < n else i - 1, n, tree[i], proof, r)
    for k in range(len(proof)):
        flipped = list(proof)
        flipped[k] = bytes([proof[k][0] ^ 1]) + proof[k][1:]
        yield f"element {k} flipped", (i, n, tree[i], flipped, r)
    if proof:
        yield "truncated", (i, n, tree[i], proof[:-1], r)
    yield "extended", (i, n, tree[i], [*proof, bytes(32)], r)
    yield "index out of range", (n, n, tree[i], proof, r)


def test_every_tampered_inclusion_proof_fails():
    checked = 0
    for n in SIZES:
        tree, r = LEAVES[:n], merkle.root(LEAVES[:n])
        for i in range(n):
            proof = merkle.inclusion_proof(i, tree)
            for what, args in _tampered_inclusion(i, n, tree, proof, r):
                with pytest.raises(MerkleProofError):
                    merkle.verify_inclusion(*args)
                    pytest.fail(f"n={n} i={i}: {what} verified")
                checked += 1
    assert checked > 3000


def test_every_consistency_proof_verifies():
    for n in SIZES:
        new = merkle.root(LEAVES[:n])
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, LEAVES[:n])
            merkle.verify_consistency(m, n, merkle.root(LEAVES[:m]), new, proof)


def test_every_tampered_consistency_proof_fails():
    checked = 0
    for n in SIZES:
        new = merkle.root(LEAVES[:n])
        for m in range(1, n + 1):
            old = merkle.root(LEAVES[:m])
            proof = merkle.consistency_proof(m, LEAVES[:n])
            cases = [("wrong old root", (m, n, bytes(32), new, proof)),
                     ("wrong new root", (m, n, old, bytes(32), proof)),
                     ("extended", (m, n, old, new, [*proof, bytes(32)]))]
            if proof:
                cases.append(("truncated", (m, n, old, new, proof[:-1])))
            for k in range(len(proof)):
                flipped = list(proof)
                flipped[k] = bytes([proof[k][0] ^ 1]) + proof[k][1:]
                cases.append((f"element {k} flipped", (m, n, old, new, flipped)))
            if m > 1:  # the old tree's root claimed for a smaller size
                cases.append(("wrong old size", (m - 1, n, old, new, proof)))
            for what, args in cases:
                with pytest.raises(MerkleProofError):
                    merkle.verify_consistency(*args)
                    pytest.fail(f"m={m} n={n}: {what} verified")
                checked += 1
    assert checked > 2000


def test_a_rewritten_prefix_is_not_consistent():
    n, m = 20, 13
    forked = list(LEAVES[:n])
    forked[5] = leaf(b"rewritten")
    proof = merkle.consistency_proof(m, forked)
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(m, n, merkle.root(LEAVES[:m]), merkle.root(forked), proof)


def test_bad_arguments():
    with pytest.raises(IndexError):
        merkle.inclusion_proof(3, LEAVES[:3])
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, LEAVES[:3])
    with pytest.raises(ValueError):
        merkle.consistency_proof(4, LEAVES[:3])
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(0, 3, bytes(32), bytes(32), [])
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(3, 3, merkle.root(LEAVES[:3]), merkle.root(LEAVES[:3]), [bytes(32)])
    merkle.verify_consistency(3, 3, merkle.root(LEAVES[:3]), merkle.root(LEAVES[:3]), [])


def test_prefix_roots_in_one_pass_match_each_prefix_root() -> None:
    """Verification checks every held checkpoint from one pass over the leaves."""
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(41)]
    sizes = set(range(0, 42, 3)) | {41}
    assert merkle.prefix_roots(leaves, sizes) == {s: merkle.root(leaves[:s]) for s in sizes}
