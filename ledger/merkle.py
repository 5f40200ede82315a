"""RFC 9162 Merkle tree hashes, inclusion and consistency proofs, over leaf hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.hashing import node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()


class MerkleProofError(ValueError):
    """A proof does not verify; the message says which step and what was expected."""


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already-hashed leaves, computed with a stack in O(n)."""
    return prefix_roots(leaves, {len(leaves)})[len(leaves)]


def prefix_roots(leaves: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """MTH(D[s]) for each size s in `sizes` (each <= len(leaves)), in one pass.

    The stack holds the perfect subtrees of the prefix read so far (sizes strictly
    decreasing); a prefix's root folds them right to left, as RFC 9162's split does.
    """
    roots = {0: EMPTY_ROOT} if 0 in sizes else {}
    stack: list[tuple[int, bytes]] = []
    for count, leaf in enumerate(leaves, start=1):
        size, h = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, h = left_size + size, node_hash(left, h)
        stack.append((size, h))
        if count in sizes:
            folded = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                folded = node_hash(left, folded)
            roots[count] = folded
    return roots


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) for leaf `index` (0-based)."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError(f"leaf {index} is outside a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [root(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [root(leaves[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 section 2.1.3.2; raises MerkleProofError on mismatch."""
    if not 0 <= index < size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for step, p in enumerate(proof):
        if sn == 0:
            raise MerkleProofError(f"proof is longer than expected at step {step}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleProofError("proof is shorter than expected")
    if r != expected_root:
        raise MerkleProofError(f"root mismatch: expected {expected_root.hex()}, found {r.hex()}")


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) that the first `old_size` leaves are a prefix of `leaves`."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"old size {old_size} is not within 1..{n}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 section 2.1.4.2; raises MerkleProofError on mismatch."""
    if not 0 < old_size <= new_size:
        raise MerkleProofError(f"old size {old_size} is not within 1..{new_size}")
    if old_size == new_size:
        if proof:
            raise MerkleProofError("proof must be empty for equal sizes")
        if old_root != new_root:
            raise MerkleProofError(f"roots differ at equal size {old_size}")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: old root is the first node
        path.insert(0, old_root)
    if not path:
        raise MerkleProofError("empty proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for p in path[1:]:
        if sn == 0:
            raise MerkleProofError("proof is longer than expected")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(p, fr), node_hash(p, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleProofError("proof is shorter than expected")
    if fr != old_root:
        raise MerkleProofError(f"old root mismatch: expected {old_root.hex()}, found {fr.hex()}")
    if sr != new_root:
        raise MerkleProofError(f"new root mismatch: expected {new_root.hex()}, found {sr.hex()}")
