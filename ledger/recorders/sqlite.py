"""SQLite: the signature and chain hash are columns of the event's own row, and the
position is its row id (see ledger/recorders/__init__.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from ledger.errors import LedgerError, VersionConflictError
from ledger.hashing import GENESIS_HASH, chain_hash
from ledger.keyring import KEYRING_ID
from ledger.receipts import Receipt
from ledger.recorders.chain import (
    CHAIN_TABLE,
    CHECKPOINT_INSERT_SQL,
    CHECKPOINTS_TABLE,
    KEYS_TABLE,
    META_TABLE,
    ChainQueries,
    conflict_message,
    head_of,
    make_receipts,
    presigned_ids,
    receipts_only_if_committed,
    sign_events,
    start_receipts,
    to_chain_rows,
    to_unchained,
)
from ledger.rows import ChainRow, UnchainedRow

# SQLite: a write that changes nothing, as a write transaction's first statement. Any write
# takes SQLite's write lock (waiting on the busy timeout while another connection holds
# it), which BEGIN IMMEDIATE would take; the library's transaction begins with a plain
# BEGIN and offers no other way to ask for it.
SQLITE_TAKE_WRITE_LOCK_SQL = "UPDATE {meta} SET value = value WHERE 0"
# SQLite, under the write lock: the chain head. The head is the last row that carries a
# chain hash: a row written behind the ledger's back (without one) must not restart it.
SQLITE_HEAD_SQL = (
    "SELECT rowid, chain_hash FROM {events} WHERE chain_hash IS NOT NULL ORDER BY rowid DESC LIMIT 1"
)
# The chain head's row carries the other two as subqueries (cheaper than joining
# the head onto a one-row select); the largest row id is what this save's rows follow.
_SQLITE_RING_AND_MAX = (
    "(SELECT MAX(originator_version) FROM {events} WHERE originator_id = ?), "
    "(SELECT MAX(rowid) FROM {events})"
)
SQLITE_RING_AND_HEAD_SQL = (
    "SELECT rowid, chain_hash, " + _SQLITE_RING_AND_MAX + " FROM {events} "
    "WHERE chain_hash IS NOT NULL ORDER BY rowid DESC LIMIT 1"
)
SQLITE_RING_NO_HEAD_SQL = "SELECT NULL, NULL, " + _SQLITE_RING_AND_MAX  # no chained row yet
SQLITE_INSERT_SQL = (
    "INSERT INTO {events} (originator_id, originator_version, topic, state, key_id, signature, "
    "chain_hash) VALUES (?,?,?,?,?,?,?)"
)
# Positions, chain rows and unchained rows read from the events table itself. A row with
# a chain hash is chained; a missing key id or signature reads as empty (and fails).
SQLITE_CHAIN_COLUMNS = (
    "SELECT rowid, rowid, originator_id, originator_version, COALESCE(key_id, ''), "
    "COALESCE(signature, x''), chain_hash, originator_id, originator_version, topic, state "
    "FROM {events} "
)
SQLITE_CHAIN_SELECT = SQLITE_CHAIN_COLUMNS + "WHERE rowid >= ? AND rowid <= ? AND chain_hash IS NOT NULL "
# Positions asked for by number, at most this many per statement (SQLite's default limit
# on bound parameters was 999 before 3.32).
SQLITE_IN_CHUNK = 500
SQLITE_UNCHAINED_SQL = (
    "SELECT rowid, originator_id, originator_version, topic FROM {events} "
    "WHERE chain_hash IS NULL ORDER BY rowid"
)


class SignedSQLiteApplicationRecorder(SQLiteApplicationRecorder, ChainQueries):
    """SQLite: the signature and chain hash are columns of the event's own row, and the
    position is its row id (see the module's docstring)."""

    chain_embedded = True
    head_sql = SQLITE_HEAD_SQL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_events_statement = self.q(SQLITE_INSERT_SQL)

    def construct_create_table_statements(self) -> list[str]:
        events = self.events_table_name
        return [
            # The library's events table (originator_id TEXT, originator_version INTEGER,
            # topic TEXT, state BLOB, primary key on both ids, with row ids), plus the
            # ledger's three columns.
            f"CREATE TABLE IF NOT EXISTS {events} ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "key_id TEXT, signature BLOB, chain_hash BLOB, "
            "PRIMARY KEY (originator_id, originator_version))",
            f"CREATE VIEW IF NOT EXISTS {CHAIN_TABLE} AS SELECT rowid AS position, "
            "rowid AS notification_id, originator_id, originator_version, key_id, signature, "
            f"chain_hash FROM {events} WHERE chain_hash IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} ("
            "key_id TEXT PRIMARY KEY, owner TEXT NOT NULL, pkcs8 BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, note TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, with the events signed before its write transaction
        opens (signing needs only the bytes and identity: the lock is held for the
        inserts alone). The chain is extended in `_insert_events`, inside it."""
        signed = sign_events(stored_events, kwargs.get("signer"))
        try:
            with receipts_only_if_committed(kwargs):
                return super().insert_events(stored_events, **{**kwargs, "signed": signed})
        except IntegrityError as e:
            raise VersionConflictError(conflict_message(stored_events)) from e

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        # The library's hook, called inside its write transaction (a plain, deferred
        # BEGIN): whatever fails here rolls the whole save back.
        start_receipts(kwargs)
        # A write first, so that this transaction holds SQLite's write lock (waiting on
        # the busy timeout for another writer) before it reads the chain head: read
        # first, another process could commit in between and the write would then fail
        # at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
        c.execute(self.q(SQLITE_TAKE_WRITE_LOCK_SQL))
        # The chain head, the key ring's version before this save, the last row id.
        c.execute(self.q(SQLITE_RING_AND_HEAD_SQL), (KEYRING_ID.hex,))
        row = c.fetchone()
        if row is None:
            c.execute(self.q(SQLITE_RING_NO_HEAD_SQL), (KEYRING_ID.hex,))
            row = c.fetchone()
        key_check = kwargs.get("key_check")
        if key_check is not None:
            key_check(row[2])
        head = head_of(row) if row[0] is not None else None
        return self._insert_chained(c, stored_events, kwargs["signed"], head, kwargs["signer"].key_id,
                                    row[3] or 0, kwargs.get("receipts"))

    def _insert_chained(self, c: Any, stored_events: Sequence[StoredEvent], signed: Sequence[tuple[bytes, bytes]],
                        head: tuple[int, bytes] | None, key: str, last_rowid: int,
                        receipts: list[Receipt] | None = None) -> list[int]:
        # One row per event with its signature and link, all in one `executemany` (the
        # loop over rows runs in C). The library's cursor wrapper is bypassed (its errors
        # are translated when the transaction ends, as the library's own insert relies on).
        cursor = c.sqlite_cursor
        _, previous = head if head else (0, GENESIS_HASH)
        rows = []
        append = rows.append
        for s, (h, sig) in zip(stored_events, signed, strict=True):
            previous = chain_hash(previous, h, sig)
            oid = s.originator_id
            append((oid.hex if isinstance(oid, UUID) else oid, s.originator_version, s.topic, s.state,
                    key, sig, previous))
        # Under the write lock SQLite gives each new row the largest row id + 1, so this
        # save's rows are the next len(rows) ids; checked, not assumed: anything else is
        # refused and the transaction rolls back.
        first, last = last_rowid + 1, last_rowid + len(rows)
        if rows and self._insert_rows(cursor, rows) != last:
            raise LedgerError(f"rows were not stored at ids {first}..{last}: refusing to record")
        positions = list(range(first, last + 1))
        if receipts is not None:
            receipts[:] = make_receipts(stored_events, positions, signed, [r[6] for r in rows])
        return positions

    def _insert_rows(self, cursor: Any, rows: list[tuple]) -> int:
        """Insert the rows; the last one's row id. A one-event save (the commonest) reads
        it from the cursor; `executemany` sets no lastrowid, so a larger one asks SQLite
        in a statement of its own (each statement costs a parse: the library's
        connections cache one prepared statement)."""
        if len(rows) == 1:
            cursor.execute(self.insert_events_statement, rows[0])
            return int(cursor.lastrowid)
        cursor.executemany(self.insert_events_statement, rows)
        return int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])

    def insert_presigned(self, batches: Iterable[Sequence[ChainRow]],
                         checkpoints: Sequence[tuple[int, str]] = ()) -> tuple[int, bytes]:
        """Append records already signed and chained (an imported bundle), batch by batch,
        and then `checkpoints` ((size, note) pairs), all in one transaction; return the
        new head. Not through `sign_events`: each row keeps its key id and signature, and
        a row whose recomputed chain hash differs is refused (see `presigned_ids`)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(SQLITE_TAKE_WRITE_LOCK_SQL))  # locked before the head is read
            c.execute(self.q(SQLITE_HEAD_SQL))
            head = head_of(c.fetchone()) or (0, GENESIS_HASH)
            execute, cursor, sql = c.sqlite_cursor.execute, c.sqlite_cursor, self.insert_events_statement
            for batch in batches:
                for r, oid in zip(batch, presigned_ids(batch, head), strict=True):
                    execute(sql, (oid.hex, r.originator_version, r.topic, r.state, r.key_id, r.signature,
                                  r.chain_hash))
                    if cursor.lastrowid != r.position:  # the position is the row id
                        raise LedgerError(f"record at position {r.position} was stored as row {cursor.lastrowid}")
                if batch:
                    head = (batch[-1].position, batch[-1].chain_hash)
            for size, note in checkpoints:
                c.execute(self.q(CHECKPOINT_INSERT_SQL), (size, note))
        return head

    def read_chain(self, lo: int, hi: int, topics: Sequence[str] = ()) -> list[ChainRow]:
        sql, params = self.q(SQLITE_CHAIN_SELECT), [lo, hi]
        if topics:
            sql += f"AND topic IN ({','.join('?' * len(topics))}) "
            params += list(topics)
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            cursor.execute(sql + "ORDER BY rowid", params)
            return to_chain_rows(cursor.fetchall())

    def read_positions(self, positions: Iterable[int]) -> list[ChainRow]:
        """One query per 500 positions, in one read transaction (a query and a transaction
        per position was what a project page's signature column cost)."""
        wanted = sorted(set(positions))
        rows: list[tuple] = []
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            for i in range(0, len(wanted), SQLITE_IN_CHUNK):
                part = wanted[i:i + SQLITE_IN_CHUNK]
                cursor.execute(self.q(SQLITE_CHAIN_COLUMNS) + f"WHERE rowid IN ({','.join('?' * len(part))}) "
                               "AND chain_hash IS NOT NULL ORDER BY rowid", part)
                rows += cursor.fetchall()
        return to_chain_rows(rows)

    def unchained_rows(self) -> list[UnchainedRow]:
        return to_unchained(self.fetch(SQLITE_UNCHAINED_SQL))

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.q(sql), params)
            return [tuple(r) for r in c.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(sql), params)
