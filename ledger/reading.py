"""The log as readers outside the ledger see it: the read side of the ledger's port.

Every module outside `ledger/` that reads the log does so through these methods of the
application (a mixin of `LedgerApplication`), never through its recorder or the log's SQL:
the ledger alone knows how positions, chain rows and events are stored on each backend.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from ledger.rows import LogRow, UnchainedRow, column_as

# The SQLite ledger's own chain select (on SQLite a position is an event row, its row id,
# with the chain columns beside the event's) less the signature and chain hash. Read from
# the events table itself: through the `ledger_chain` view, joined back to the events,
# every row was looked up twice.
_SQLITE_ENTRIES = (
    "SELECT rowid, originator_id, originator_version, COALESCE(key_id, ''), topic, state "
    "FROM {events} WHERE rowid >= ? AND rowid <= ? AND chain_hash IS NOT NULL ORDER BY rowid"
)
_LAST_VERSION_AT = (
    "SELECT e.originator_version, c.position FROM {events} e JOIN {chain} c "
    "ON c.notification_id = e.{nid} WHERE e.originator_id = ? AND c.position <= ? "
    "ORDER BY e.originator_version DESC LIMIT 1"
)
_ORIGINATORS_OF_TOPIC = "SELECT originator_id FROM {events} WHERE topic = ?"
_LATEST_CHECKPOINT = "SELECT note FROM {checkpoints} ORDER BY id DESC LIMIT 1"
_EVENT_AT = (
    "SELECT c.position, e.state FROM {chain} c JOIN {events} e "
    "ON e.{nid} = c.notification_id WHERE e.originator_id = ? AND e.originator_version = ?"
)
_POSITION_OF_NOTIFICATION = "SELECT position FROM {chain} WHERE notification_id = ?"
_NEWEST_OF = (
    "SELECT c.position, e.topic, e.state FROM {chain} c JOIN {events} e "
    "ON e.{nid} = c.notification_id WHERE e.originator_id = ? "
    "ORDER BY e.originator_version DESC LIMIT ?"
)


class LogReading:
    """Read methods of the ledger application (see the module's docstring)."""

    recorder: Any
    backend: Any

    def read_entries(self, lo: int, hi: int) -> list[LogRow]:
        """Positions lo..hi as LogRows: the chain rows less the signature and chain hash,
        for readers that do not check those (the read models; `verify` does)."""
        recorder = self.recorder
        if not getattr(recorder, "chain_embedded", True):  # PostgreSQL
            return _pg_log_rows(recorder.read_unsigned(lo, hi))
        with recorder.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            cursor.execute(recorder.q(_SQLITE_ENTRIES), (lo, hi))
            return _sqlite_log_rows(cursor.fetchall())

    def unchained_rows(self) -> list[UnchainedRow]:
        """Stored events that no chain position accounts for (written behind the ledger)."""
        return self.recorder.unchained_rows()

    def has_events(self, aggregate_id: UUID) -> bool:
        """Whether any event of `aggregate_id` is stored."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def originators_of_topic(self, topic: str) -> list[UUID]:
        """The ids of the aggregates with an event of `topic` (e.g. every chartered project)."""
        return [UUID(str(r[0])) for r in self.recorder.fetch(_ORIGINATORS_OF_TOPIC, (topic,))]

    def last_version_at(self, aggregate_id: UUID, position: int) -> tuple[int, int] | None:
        """(version, position) of the aggregate's last event at or before `position`.

        Walks the aggregate's own events newest first through the event store's primary
        key, each joined to its chain row by the chain's unique notification id: no scan."""
        rows = self.recorder.fetch(_LAST_VERSION_AT, (self._stored_id(aggregate_id), position))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def event_at(self, aggregate_id: UUID, version: int) -> list[tuple[int, bytes]]:
        """(position, stored bytes) of the aggregate's event `version` ([] if not in the log)."""
        rows = self.recorder.fetch(_EVENT_AT, (self._stored_id(aggregate_id), version))
        return [(int(p), bytes(s)) for p, s in rows]

    def newest_of(self, aggregate_id: UUID, limit: int) -> list[tuple[int, str, bytes]]:
        """(position, topic, stored bytes) of the aggregate's newest `limit` events."""
        rows = self.recorder.fetch(_NEWEST_OF, (self._stored_id(aggregate_id), limit))
        return [(int(p), str(t), bytes(s)) for p, t, s in rows]

    def position_of_notification(self, notification_id: int) -> int | None:
        """The chain position holding the library's notification `notification_id`."""
        rows = self.recorder.fetch(_POSITION_OF_NOTIFICATION, (notification_id,))
        return int(rows[0][0]) if rows else None

    def latest_checkpoint_note(self) -> str | None:
        """The newest stored checkpoint's signed note, or None before the first."""
        rows = self.recorder.fetch(_LATEST_CHECKPOINT)
        return str(rows[0][0]) if rows else None

    def last_notification_id(self) -> int:
        """The library's newest notification id (0 for an empty log)."""
        return int(self.recorder.max_notification_id() or 0)

    def subscribe(self, gt: int) -> Any:
        """The library's subscription to notifications after `gt` (a context manager
        and iterator of notifications; LISTEN/NOTIFY on PostgreSQL)."""
        return self.recorder.subscribe(gt=gt)

    def _stored_id(self, aggregate_id: UUID) -> Any:
        return aggregate_id.hex if self.backend.sqlite_path is not None else aggregate_id


def _sqlite_log_rows(rows: list[tuple]) -> list[LogRow]:
    """LogRows from the SQLite select's tuples, each originator id in its canonical text
    (as the ledger's ChainRows have them; stored as hex on SQLite), worked out once per
    id; the position is the notification id, and the chain's and the event's identity are
    the row's own. Column by column, so that no Python code runs per row."""
    from ledger.recorders.chain import canonical_ids

    if not rows:
        return []
    pos, oid, version, key, topic, state = zip(*rows, strict=True)
    # As the ledger's ChainRows have it: an event id that is NULL (a tampered row) stays
    # None -- the payload then reads as missing -- and the chain's copy is its text.
    ids, chain_ids = canonical_ids(oid)
    return list(map(_new_log_row, zip(pos, pos, chain_ids, version, key, ids, version, topic,
                                      column_as(state, bytes, none=True), strict=True)))


def _pg_log_rows(rows: list[tuple]) -> list[LogRow]:
    """LogRows from `read_unsigned`'s tuples, which are the ledger's ChainRows' fields
    (PostgreSQL gives a UUID's canonical text). Column by column, as `_sqlite_log_rows`."""
    if not rows:
        return []
    *columns, state = zip(*rows, strict=True)
    return list(map(_new_log_row, zip(*columns, column_as(state, bytes, none=True), strict=True)))


_new_log_row = partial(tuple.__new__, LogRow)  # LogRow._make without its Python frame
