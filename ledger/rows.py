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


def column_as(column: tuple, kind: type, *, none: bool = False) -> tuple:
    """A column of a driver's values as `kind` (int, str or bytes: a driver may give a
    memoryview for bytes), None kept where `none` (else converted as `kind(None)` does it:
    an error for int and bytes); the same tuple where nothing needs converting."""
    if set(map(type, column)) <= ({kind, type(None)} if none else {kind}):
        return column
    return tuple(None if none and v is None else kind(v) for v in column)
