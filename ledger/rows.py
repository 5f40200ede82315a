"""Plain records read back from storage (or a bundle) for verification and export."""

from __future__ import annotations

from typing import NamedTuple


class ChainRow(NamedTuple):
    """One position of the global chain, joined with the stored event it points at.

    The chain row keeps its own copy of the row identity, so a stored event that was
    deleted or swapped shows up as a mismatch at the right position.
    """

    position: int
    notification_id: int
    originator_id: str
    originator_version: int
    key_id: str
    signature: bytes
    chain_hash: bytes
    # The stored event at `notification_id` (None when it is missing).
    event_originator_id: str | None
    event_originator_version: int | None
    topic: str | None
    state: bytes | None


class UnchainedRow(NamedTuple):
    """A stored event no chain position accounts for (inserted behind the ledger's back)."""

    notification_id: int
    originator_id: str
    originator_version: int
    topic: str


def as_bytes(column: tuple, *, none: bool = True) -> tuple:
    """A column of byte strings as bytes (a driver may give memoryviews), None kept where
    `none` (else it fails, as bytes(None) does); converted only where needed."""
    if set(map(type, column)) <= ({bytes, type(None)} if none else {bytes}):
        return column
    return tuple(None if none and v is None else bytes(v) for v in column)
