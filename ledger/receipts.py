"""What the log gives back for each event it records: a receipt.

A receipt is taken from what the save itself wrote, inside its write transaction (the
recorder fills the list passed down as `save(..., receipts=[...])`), never looked up
afterwards: a concurrent write cannot be mistaken for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from ledger.hashing import leaf_hash


class Receipt(NamedTuple):
    """One recorded event: where it sits in the log and the hashes that bind it there."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    record_hash: bytes  # SHA-256 of the row identity and the stored bytes (FORMAT.md)
    signature: bytes
    chain_hash: bytes  # the chain head after this position
    recorded_at: datetime  # UTC, when the recorder wrote it

    @property
    def leaf_hash(self) -> bytes:
        """The RFC 9162 leaf hash of this position (the Merkle tree's input)."""
        return leaf_hash(self.record_hash, self.signature)

    def as_dict(self) -> dict[str, Any]:
        """The receipt as a write answer carries it (hashes in lower-case hex)."""
        return {
            "position": self.position,
            "originator_id": self.originator_id,
            "originator_version": self.originator_version,
            "topic": self.topic,
            "leaf_hash": self.leaf_hash.hex(),
            "chain_hash": self.chain_hash.hex(),
            "recorded_at": self.recorded_at.isoformat().replace("+00:00", "Z"),
        }


def now() -> datetime:
    return datetime.now(UTC)
