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


class LogRow(NamedTuple):
    """A chain position as readers that do not verify read it: a `ChainRow` without the signature
    and chain hash (checking those is `pmo-ledger verify`'s work; no read model shows
    them), which were over half the cost of fetching a position on SQLite."""

    position: int
    notification_id: int
    originator_id: str
    originator_version: int
    key_id: str
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
    memoryview for bytes), None kept where `none`; the same tuple where nothing needs
    converting. A value of another kind (text in a signature, a fraction or text as a
    version, a NULL where `none` is not given: an edited row) is left as the database
    gave it, for the verifier to report as `malformed-row` rather than crash on it; never
    coerced (int(3.7) would read a forged version 3.7 as 3)."""
    if set(map(type, column)) <= ({kind, type(None)} if none else {kind}) or kind is not bytes:
        return column
    return tuple(bytes(v) if isinstance(v, memoryview | bytearray) else v for v in column)
