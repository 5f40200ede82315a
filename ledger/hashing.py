"""The byte-exact definitions of what is hashed and what is signed (see FORMAT.md).

Small pure functions, each with its own domain-separation prefix, so a hash made for
one purpose can never be passed off as another.
"""

from __future__ import annotations

import hashlib

# Prefixes. The chain and Merkle prefixes are fixed by DESIGN.md / RFC 9162; the record
# and signature prefixes are ASCII tags ending in NUL.
RECORD_PREFIX = b"pmo-ledger:record:v1\x00"
SIGNATURE_PREFIX = b"pmo-ledger:signature:v1\x00"
CHAIN_PREFIX = b"\x00"
MERKLE_LEAF_PREFIX = b"\x00"
MERKLE_NODE_PREFIX = b"\x01"

GENESIS_HASH = bytes(32)  # hash_0: the "previous hash" of position 1


def record_hash(originator_id: str, originator_version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 of the row identity and the exact stored bytes."""
    identity = f"{originator_id}\n{originator_version}\n{topic}\n".encode()
    return hashlib.sha256(RECORD_PREFIX + identity + state).digest()


def signed_message(rec_hash: bytes) -> bytes:
    """The message an Ed25519 key signs for one record."""
    return SIGNATURE_PREFIX + rec_hash


def chain_hash(previous: bytes, rec_hash: bytes, signature: bytes) -> bytes:
    """hash_n = SHA-256(0x00 || hash_{n-1} || record hash || signature)."""
    return hashlib.sha256(CHAIN_PREFIX + previous + rec_hash + signature).digest()


def leaf_hash(rec_hash: bytes, signature: bytes) -> bytes:
    """RFC 9162 leaf hash of one record: SHA-256(0x00 || record hash || signature)."""
    return hashlib.sha256(MERKLE_LEAF_PREFIX + rec_hash + signature).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(MERKLE_NODE_PREFIX + left + right).digest()
