"""Signed, chained application recorders for SQLite and PostgreSQL.

They subclass the `eventsourcing` library's own application recorders and add, inside
the library's write transaction, what the ledger needs per event: its position, the
signer's key id, the Ed25519 signature over the stored bytes and row identity, and the
chain hash linking it to the previous position. Signing happens before the transaction
opens (it needs only the bytes and identity), so the write lock is held only for the
inserts.

Where those columns live differs by backend, for speed; what is read back does not:

- PostgreSQL keeps them in a `ledger_chain` table beside the events (positions are dense
  there while notification ids have gaps), extended under the library's EXCLUSIVE lock.
- SQLite keeps them in the events row itself, and the position is the row id (dense:
  SQLite gives each row max+1 and a rolled-back insert gives nothing away). A second
  table cost a second and third B-tree page per commit (4.7 WAL frames against the
  library's 2.6), which with fsync'd commits made signed saves 20% slower than raw ones;
  one row per event writes 2.75. A view named `ledger_chain` presents the same columns,
  so every reader's SQL is the same on both backends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteFactory,
)
from psycopg.rows import tuple_row

from ledger.errors import EventTooLargeError, LedgerError, MissingSignerError, VersionConflictError
from ledger.hashing import GENESIS_HASH, chain_hash, record_hash
from ledger.keyring import KEYRING_ID
from ledger.keys import Signer
from ledger.receipts import Receipt
from ledger.receipts import now as receipt_time
from ledger.rows import ChainRow, UnchainedRow, column_as
from ledger.snapshots import SEALS_TABLE, Seal, SealError, check_seal, make_seal, root_public_key_of

CHAIN_TABLE = "ledger_chain"
KEYS_TABLE = "ledger_private_keys"
CHECKPOINTS_TABLE = "ledger_checkpoints"
META_TABLE = "ledger_meta"
HEAD_SQL = "SELECT position, chain_hash FROM {chain} ORDER BY position DESC LIMIT 1"
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
# PostgreSQL: all of a save's chain rows in one statement (executemany is a round trip
# per row's worth of work; unnest over arrays is one).
INSERT_CHAIN_UNNEST_SQL = (
    "INSERT INTO {chain} (position, notification_id, originator_id, originator_version, "
    "key_id, signature, chain_hash) SELECT p, n, o, v, %s, s, h FROM unnest("
    "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::bytea[], %s::bytea[]) "
    "AS t(p, n, o, v, s, h)"
)
# PostgreSQL, under the library's EXCLUSIVE lock before a save's insert: the key ring's
# version and the chain head this save extends.
PG_RING_AND_HEAD_SQL = (
    "SELECT (SELECT MAX(originator_version) FROM {events} WHERE originator_id = %s), "
    "h.position, h.chain_hash FROM (SELECT 1) AS one LEFT JOIN "
    "(SELECT position, chain_hash FROM {chain} ORDER BY position DESC LIMIT 1) h ON true"
)
# Pre-signed records (an import): their events, in order, then the same chain rows with
# each row's own key id.
PG_INSERT_PRESIGNED_EVENTS_SQL = (
    "INSERT INTO {events} (originator_id, originator_version, topic, state) "
    "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) "
    "RETURNING notification_id"
)
INSERT_PRESIGNED_CHAIN_SQL = (
    "INSERT INTO {chain} (position, notification_id, originator_id, originator_version, "
    "key_id, signature, chain_hash) SELECT * FROM unnest("
    "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[], %s::bytea[], %s::bytea[])"
)
CHECKPOINT_INSERT_SQL = "INSERT INTO {checkpoints} (size, note) VALUES (?, ?)"
# PostgreSQL: a chain range less the signatures and chain hashes (`read_unsigned`).
UNSIGNED_SELECT = (
    "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, c.key_id, "
    "e.originator_id::text, e.originator_version, e.topic, e.state "
    "FROM {chain} c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
)


# The largest payload the ledger stores: a backstop behind the domain's own limits on text
# and list lengths (a command's whole event stays far below it), so that no input can make
# an event, and the pages that show it, megabytes long.
MAX_PAYLOAD_BYTES = 256 * 1024


def sign_events(stored_events: Sequence[StoredEvent], signer: Any) -> list[tuple[bytes, bytes]]:
    """(record hash, signature) per event, by the person acting."""
    if not isinstance(signer, Signer):
        raise MissingSignerError(
            "refusing to record unsigned events: pass signer=<the acting person's Signer>"
        )
    for s in stored_events:
        if len(s.state) > MAX_PAYLOAD_BYTES:
            raise EventTooLargeError(
                f"an event of {len(s.state):,} bytes ({s.topic}) is over the ledger's limit of "
                f"{MAX_PAYLOAD_BYTES:,} bytes; nothing was recorded")
    hashes = []
    oid: Any = None
    text = ""
    for s in stored_events:
        if s.originator_id is not oid:  # a save's events mostly share one id: its text once
            oid = s.originator_id
            text = str(oid)
        hashes.append(record_hash(text, s.originator_version, s.topic, s.state))
    return list(zip(hashes, signer.sign_many(hashes), strict=True))


def chain_params(
    stored_events: Sequence[StoredEvent],
    ids: Sequence[int],
    signed: Sequence[tuple[bytes, bytes]],
    head: tuple[int, bytes] | None,
    key: str,
) -> list[tuple]:
    """The ledger_chain rows continuing from `head` (position, hash) or from genesis."""
    position, previous = head if head else (0, GENESIS_HASH)
    rows = []
    for s, nid, (h, sig) in zip(stored_events, ids, signed, strict=True):
        position += 1
        previous = chain_hash(previous, h, sig)
        rows.append((position, nid, str(s.originator_id), s.originator_version, key, sig, previous))
    return rows


def presigned_ids(rows: Sequence[ChainRow], head: tuple[int, bytes]) -> list[UUID]:
    """The originator ids of records signed and chained elsewhere (an import), once each
    is shown to continue the chain from `head`: the next position, a stored event that is
    the one the row names, and the chain hash recomputed from its bytes and signature.
    Raises LedgerError at the first record that does not, so nothing of its batch is kept.

    The signatures themselves are not checked here (the verifier does that, against the
    key valid at each position); the chain hash binds each one to its record.
    """
    position, previous = head
    out = []
    for r in rows:
        position += 1
        where = f"record at position {r.position}"
        if r.position != position:
            raise LedgerError(f"{where} does not follow the chain head (expected position {position})")
        if r.state is None or r.topic is None or (r.event_originator_id, r.event_originator_version) != (
            r.originator_id, r.originator_version
        ):
            raise LedgerError(f"{where} carries no stored event, or not the one it names")
        oid = _as_uuid(r.originator_id)
        if not isinstance(oid, UUID) or str(oid) != r.originator_id:
            raise LedgerError(f"{where}: originator id {r.originator_id!r} is not a UUID in canonical form")
        previous = chain_hash(previous, record_hash(r.originator_id, r.originator_version, r.topic, r.state),
                              r.signature)
        if previous != r.chain_hash:
            raise LedgerError(f"{where}: the chain hash recomputed from its record and signature "
                              f"({previous.hex()}) differs from the one it carries ({r.chain_hash.hex()})")
        out.append(oid)
    return out


def _start_receipts(kwargs: dict[str, Any]) -> None:
    # An attempt that is tried again (the library retries a dropped PostgreSQL
    # connection) starts its receipts afresh: only the attempt that commits is reported.
    receipts = kwargs.get("receipts")
    if receipts is not None:
        receipts.clear()


@contextmanager
def _receipts_only_if_committed(kwargs: dict[str, Any]) -> Iterator[None]:
    """Empty the save's receipts when it fails: a receipt says the event is in the log."""
    try:
        yield
    except BaseException:
        _start_receipts(kwargs)
        raise


def make_receipts(stored_events: Sequence[StoredEvent], positions: Sequence[int],
                  signed: Sequence[tuple[bytes, bytes]], hashes: Sequence[bytes]) -> list[Receipt]:
    """The receipts of one save, from what its write transaction stored."""
    at = receipt_time()
    return [Receipt(p, str(s.originator_id), s.originator_version, s.topic, h, sig, ch, at)
            for s, p, (h, sig), ch in zip(stored_events, positions, signed, hashes, strict=True)]


def _head(row: Any) -> tuple[int, bytes] | None:
    return (int(row[0]), bytes(row[1])) if row else None


class ChainQueries:
    """SQL shared by both backends; `?` placeholders are rewritten for psycopg."""

    events_table_name: str
    placeholder = "?"
    rowid = "rowid"
    schema_prefix = ""

    def q(self, sql: str) -> str:
        try:
            return self._q_cache[sql]
        except AttributeError:
            self._q_cache: dict[str, str] = {}
        except KeyError:
            pass
        self._q_cache[sql] = out = self._rewrite(sql)
        return out

    def _rewrite(self, sql: str) -> str:
        p = self.schema_prefix
        for name, table in (
            ("{events}", self.events_table_name), ("{chain}", CHAIN_TABLE), ("{keys}", KEYS_TABLE),
            ("{checkpoints}", CHECKPOINTS_TABLE), ("{meta}", META_TABLE),
        ):
            sql = sql.replace(name, p + table)
        sql = sql.replace("{nid}", self.rowid)
        return sql if self.placeholder == "?" else sql.replace("?", "%s")

    def read_positions(self, positions: Iterable[int]) -> list[ChainRow]:
        """The chain rows at these positions (those that exist), in position order."""
        return [row for p in sorted(set(positions)) for row in self.read_chain(p, p)]  # type: ignore[attr-defined]

    def chain_select(self) -> str:
        """PostgreSQL's chain rows (SQLite reads its own `SQLITE_CHAIN_SELECT`). The
        event's originator id comes as text, as the chain's copy is kept: where the two
        agree, `_to_chain_rows` takes the whole column at once."""
        return self.q(
            "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, "
            "c.key_id, c.signature, c.chain_hash, e.originator_id::text AS e_oid, "
            "e.originator_version AS e_ver, e.topic, e.state "
            "FROM {chain} c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
        )


def _to_chain_rows(rows: Iterable[Any]) -> list[ChainRow]:
    """ChainRows from (chain columns, event columns) tuples, as `chain_select` reads them.

    Column by column, so that no Python code runs per row (a third of what reading a range
    cost, and every verifier worker reads a whole log): each event's originator id becomes
    its canonical text once per aggregate; the chain's copy is that same text where it is
    the same stored value (always on SQLite, where both are the row's own hex id), else
    its own text. Columns the drivers already give as ints, texts and bytes are kept.
    """
    rows = list(rows)
    if not rows:
        return []
    pos, nid, c_oid, version, key, sig, chained, e_oid, e_ver, topic, state = zip(*rows, strict=True)
    e_ids, same_ids = canonical_ids(e_oid)
    if c_oid == e_oid:  # always on SQLite; on PostgreSQL unless a row was tampered with
        c_ids = same_ids
    else:
        c_ids = tuple(str(e) if c == o else str(c) for c, o, e in zip(c_oid, e_oid, e_ids, strict=True))
    return list(map(_new_chain_row, zip(
        column_as(pos, int), column_as(nid, int), c_ids, column_as(version, int),
        column_as(key, str), column_as(sig, bytes), column_as(chained, bytes), e_ids,
        column_as(e_ver, int, none=True), topic, column_as(state, bytes, none=True),
        strict=True)))


_new_chain_row = partial(tuple.__new__, ChainRow)  # ChainRow._make without its Python frame


def canonical_ids(stored: tuple) -> tuple[tuple, tuple]:
    """A column of stored originator ids as (each one's canonical text, worked out once per
    aggregate, a NULL -- a tampered row -- kept as None) and (the chain's copies of those
    same stored ids: the same texts, a NULL reading as "None")."""
    text = {o: None if o is None else canonical_id(o) for o in set(stored)}
    ids = tuple(map(text.__getitem__, stored))
    return ids, (ids if None not in text else tuple(map(str, ids)))


def canonical_id(value: Any) -> str:
    """A stored originator id as the ledger's rows give it: the UUID's text (hex on
    SQLite, a UUID on PostgreSQL), or the stored text itself where it is no UUID."""
    return str(_as_uuid(value))


def _as_uuid(value: Any) -> UUID | str:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return str(value)


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
            with _receipts_only_if_committed(kwargs):
                return super().insert_events(stored_events, **{**kwargs, "signed": signed})
        except IntegrityError as e:
            raise VersionConflictError(_conflict_message(stored_events)) from e

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        # The library's hook, called inside its write transaction (a plain, deferred
        # BEGIN): whatever fails here rolls the whole save back.
        _start_receipts(kwargs)
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
        head = _head(row) if row[0] is not None else None
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
        cursor.executemany(self.insert_events_statement, rows)
        # Under the write lock SQLite gives each new row the largest row id + 1, so this
        # save's rows are the next len(rows) ids; checked, not assumed (`executemany` sets
        # no lastrowid): anything else is refused and the transaction rolls back.
        first, last = last_rowid + 1, last_rowid + len(rows)
        if rows and cursor.execute("SELECT last_insert_rowid()").fetchone()[0] != last:
            raise LedgerError(f"rows were not stored at ids {first}..{last}: refusing to record")
        positions = list(range(first, last + 1))
        if receipts is not None:
            receipts[:] = make_receipts(stored_events, positions, signed, [r[6] for r in rows])
        return positions

    def insert_presigned(self, batches: Iterable[Sequence[ChainRow]],
                         checkpoints: Sequence[tuple[int, str]] = ()) -> tuple[int, bytes]:
        """Append records already signed and chained (an imported bundle), batch by batch,
        and then `checkpoints` ((size, note) pairs), all in one transaction; return the
        new head. Not through `sign_events`: each row keeps its key id and signature, and
        a row whose recomputed chain hash differs is refused (see `presigned_ids`)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(SQLITE_TAKE_WRITE_LOCK_SQL))  # locked before the head is read
            c.execute(self.q(SQLITE_HEAD_SQL))
            head = _head(c.fetchone()) or (0, GENESIS_HASH)
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
            return _to_chain_rows(cursor.fetchall())

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
        return _to_chain_rows(rows)

    def unchained_rows(self) -> list[UnchainedRow]:
        return _to_unchained(self.fetch(SQLITE_UNCHAINED_SQL))

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.q(sql), params)
            return [tuple(r) for r in c.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(sql), params)


class SignedPostgresApplicationRecorder(PostgresApplicationRecorder, ChainQueries):
    """PostgreSQL: the chain is extended under the EXCLUSIVE table lock the library takes."""

    placeholder = "%s"
    rowid = "notification_id"
    chain_embedded = False
    head_sql = HEAD_SQL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.enable_db_functions:
            # The library's insert through a database function calls none of the hooks
            # that sign and chain: every event would be stored unsigned.
            raise LedgerError("POSTGRES_ENABLE_DB_FUNCTIONS is set: the ledger signs and chains each "
                              "event in the library's insert hooks, which that insert does not call")
        self.schema_prefix = f'"{self.datastore.schema}".'
        from psycopg.sql import SQL

        schema = self.datastore.schema
        for ddl in (
            f"CREATE TABLE IF NOT EXISTS {{s}}.{CHAIN_TABLE} ("
            "position bigint PRIMARY KEY, notification_id bigint NOT NULL UNIQUE, "
            "originator_id text NOT NULL, originator_version bigint NOT NULL, "
            "key_id text NOT NULL, signature bytea NOT NULL, chain_hash bytea NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {{s}}.{KEYS_TABLE} ("
            "key_id text PRIMARY KEY, owner text NOT NULL, pkcs8 bytea NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {{s}}.{CHECKPOINTS_TABLE} ("
            "id bigserial PRIMARY KEY, size bigint NOT NULL, note text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {{s}}.{META_TABLE} (name text PRIMARY KEY, value text NOT NULL)",
        ):
            self.sql_create_statements.append(SQL(ddl.replace("{s}", f'"{schema}"')))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (with its retry on a dropped connection), with the events
        signed once before it: each attempt extends the chain in the hooks below."""
        signed = sign_events(stored_events, kwargs.get("signer"))
        if not stored_events:
            return []
        try:
            with _receipts_only_if_committed(kwargs):
                return super().insert_events(stored_events, **{**kwargs, "signed": signed, "chained": []})
        except IntegrityError as e:
            raise VersionConflictError(_conflict_message(stored_events)) from e

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's first hook of each attempt, inside its transaction. Everything
        # that may refuse the save happens here, before the insert: the library commits
        # what its later hooks wrote even when they raise (it keeps the exception to
        # re-raise after the transaction), while an exception here rolls back.
        kwargs["chained"].clear()
        _start_receipts(kwargs)  # an attempt that is tried again reports nothing of its own
        # The EXCLUSIVE lock the library's insert takes (taking it again there costs
        # nothing), taken first, so that the chain head read next is the one this save
        # extends: no other save can extend the chain until this one commits.
        for statement in self.lock_table_statements:
            curs.execute(statement, prepare=True)
        ring = KEYRING_ID if self.datastore.originator_id_type != "text" else str(KEYRING_ID)
        curs.execute(self.q(PG_RING_AND_HEAD_SQL), (ring,), prepare=True)
        row = _values(curs.fetchone())
        key_check = kwargs.get("key_check")
        if key_check is not None:  # the key ring's version before this save
            key_check(row[0])
        head = _head(row[1:]) if row[1] is not None else None
        signed, key = kwargs["signed"], kwargs["signer"].key_id
        # The chain needs no notification ids: the rows are complete once the insert
        # gives them (`_fetch_ids_after_insert_events`).
        chained = chain_params(stored_events, [0] * len(stored_events), signed, head, key)
        kwargs["chained"].extend(chained)
        receipts = kwargs.get("receipts")
        if receipts is not None:
            receipts[:] = make_receipts(stored_events, [r[0] for r in chained], signed, [r[6] for r in chained])

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        # The library's hook after its insert. Nothing here raises in Python (see
        # `_insert_events`): the chain rows take the new notification ids, and should
        # the library give fewer ids than events, unnest pads with NULLs, which the NOT
        # NULL columns refuse, so the database rolls the save back.
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        chained = kwargs["chained"]
        curs.execute(self.q(INSERT_CHAIN_UNNEST_SQL), (
            kwargs["signer"].key_id, [r[0] for r in chained], list(ids or ()), [r[2] for r in chained],
            [r[3] for r in chained], [r[5] for r in chained], [r[6] for r in chained],
        ), prepare=True)
        return ids

    def insert_presigned(self, batches: Iterable[Sequence[ChainRow]],
                         checkpoints: Sequence[tuple[int, str]] = ()) -> tuple[int, bytes]:
        """Append records already signed and chained (an imported bundle), batch by batch,
        and then `checkpoints` ((size, note) pairs), all in one transaction under the
        library's EXCLUSIVE lock; return the new head. Not through `sign_events`: each row
        keeps its key id and signature, and a row whose recomputed chain hash differs is
        refused (see `presigned_ids`). Notification ids are this database's own."""
        from psycopg.sql import SQL, Identifier

        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor(row_factory=tuple_row) as curs:
            # The lock and the notification the library's own inserts take and send, so
            # that commit order is insert order here too and subscribers hear of it.
            for statement in self.lock_table_statements:
                curs.execute(statement)
            curs.execute(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
            curs.execute(self.q(HEAD_SQL))
            head = _head(curs.fetchone()) or (0, GENESIS_HASH)
            for batch in batches:
                if batch:
                    head = self._insert_presigned_batch(curs, batch, head)
            for size, note in checkpoints:
                curs.execute(self.q(CHECKPOINT_INSERT_SQL), (size, note))
        return head

    def _insert_presigned_batch(self, curs: Any, batch: Sequence[ChainRow],
                                head: tuple[int, bytes]) -> tuple[int, bytes]:
        oids = presigned_ids(batch, head)
        text_ids = self.datastore.originator_id_type == "text"
        insert = self.q(PG_INSERT_PRESIGNED_EVENTS_SQL.replace("{id_type}", "text" if text_ids else "uuid"))
        curs.execute(insert, (
            [str(o) for o in oids] if text_ids else oids, [r.originator_version for r in batch],
            [r.topic for r in batch], [r.state for r in batch],
        ), prepare=True)
        ids = [int(r[0]) for r in curs.fetchall()]
        if len(ids) != len(batch):
            raise ProgrammingError(f"inserted {len(ids)} of {len(batch)} events")
        curs.execute(self.q(INSERT_PRESIGNED_CHAIN_SQL), (
            [r.position for r in batch], ids, [r.originator_id for r in batch],
            [r.originator_version for r in batch], [r.key_id for r in batch],
            [r.signature for r in batch], [r.chain_hash for r in batch],
        ), prepare=True)
        return batch[-1].position, batch[-1].chain_hash

    def read_chain(self, lo: int, hi: int, topics: Sequence[str] = ()) -> list[ChainRow]:
        if topics:  # a few rows by topic: let the planner start from the events
            sql = self.chain_select().replace(" LEFT JOIN ", " JOIN ", 1) + (
                "WHERE c.position >= %s AND c.position <= %s AND e.topic = ANY(%s) ORDER BY c.position")
            with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
                curs.execute(sql, [lo, hi, list(topics)])
                return _to_chain_rows(curs.fetchall())
        return _to_chain_rows(self._range_rows(self.chain_select(), lo, hi))

    def read_unsigned(self, lo: int, hi: int) -> list[tuple]:
        """Positions lo..hi as plain tuples in position order: read_chain's columns less
        the signature and chain hash (position, notification id, originator id and
        version, key id, the event's originator id (its canonical text, as in ChainRows)
        and version, topic, state),
        for readers that do not check those (the read models: `pmo-ledger verify` does)."""
        return self._range_rows(self.q(UNSIGNED_SELECT), lo, hi)

    def _range_rows(self, select: str, lo: int, hi: int) -> list[Any]:
        """`select` (a chain select joining the events as `e`) over positions lo..hi.
        The events joined are bounded by the range's own notification ids (the same
        rows; without it PostgreSQL scanned the whole events table for every range),
        and sorted here (PostgreSQL's sort of ~1 KB rows spilled to disk)."""
        sql = select.replace(
            "ON e.notification_id = c.notification_id ",
            "ON e.notification_id = c.notification_id AND e.notification_id BETWEEN "
            # (OFFSET 0 keeps the planner on the position index: min() over the
            # notification id index would walk it from the start for every range.)
            "(SELECT min(b.notification_id) FROM (SELECT notification_id FROM {chain} "
            "WHERE position BETWEEN %s AND %s OFFSET 0) b) AND "
            "(SELECT max(b.notification_id) FROM (SELECT notification_id FROM {chain} "
            "WHERE position BETWEEN %s AND %s OFFSET 0) b) ".replace(
                "{chain}", self.schema_prefix + CHAIN_TABLE),
            1,
        ) + "WHERE c.position >= %s AND c.position <= %s "
        # Binary results: bytea arrives as bytes, not hex to decode (a third less per row).
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(sql, [lo, hi, lo, hi, lo, hi])
            rows = curs.fetchall()
        rows.sort(key=_first)
        return rows

    def read_positions(self, positions: Iterable[int]) -> list[ChainRow]:
        """One query for all (a round trip per position was most of what a project
        page's signature column cost on PostgreSQL)."""
        wanted = sorted(set(positions))
        if not wanted:
            return []
        sql = self.chain_select() + "WHERE c.position = ANY(%s)"
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(sql, [wanted])
            rows = curs.fetchall()
        rows.sort(key=_first)
        return _to_chain_rows(rows)

    def unchained_rows(self) -> list[UnchainedRow]:
        return _to_unchained(self.fetch(
            "SELECT e.{nid}, e.originator_id, e.originator_version, e.topic FROM {events} e "
            "WHERE NOT EXISTS (SELECT 1 FROM {chain} c WHERE c.notification_id = e.{nid}) "
            "ORDER BY e.{nid}"
        ))

    def fetch(self, sql: str, params: Sequence[Any] = (), raw: bool = False) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql if raw else self.q(sql), params)
            return [tuple(r.values()) for r in curs.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(self.q(sql), params)


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def unchained_rows(rec: Any) -> list[UnchainedRow]:
    """Stored events that no chain position accounts for."""
    return rec.unchained_rows()


def _to_unchained(rows: Iterable[Sequence[Any]]) -> list[UnchainedRow]:
    return [UnchainedRow(int(r[0]), str(_as_uuid(r[1])), int(r[2]), r[3]) for r in rows]


def _conflict_message(stored_events: Sequence[StoredEvent]) -> str:
    first = stored_events[0]
    return (
        f"record {first.originator_id} was changed by someone else "
        f"(version {first.originator_version} already exists); reload and try again"
    )


# Sealed snapshots ---------------------------------------------------------------------------
#
# The library's snapshot recorders (one aggregate recorder per backend, for the snapshots
# table), with a seal per snapshot written in the same transaction through the library's
# insert hook, and every read through `select_events` checked against its seal and the
# chain (see ledger/snapshots.py). The application attaches its chain recorder and its
# fault list (`attach`) and hands over the root signer when it holds one (`sealer`).

# The chain row of the logged event at (originator id, version): SQLite reads the events
# row itself (the position is its row id); PostgreSQL joins the chain by notification id.
SQLITE_CHAIN_AT_SQL = (
    "SELECT rowid, chain_hash FROM {events} WHERE originator_id = ? AND originator_version = ? "
    "AND chain_hash IS NOT NULL"
)
PG_CHAIN_AT_SQL = (
    "SELECT c.position, c.chain_hash FROM {events} e JOIN {chain} c ON c.notification_id = e.notification_id "
    "WHERE e.originator_id = ? AND e.originator_version = ?"
)
SEAL_UPSERT_SQL = (
    "INSERT INTO {seals} (originator_id, originator_version, position, chain_hash, state_sha256, "
    "key_id, signature) VALUES (?,?,?,?,?,?,?) ON CONFLICT (originator_id, originator_version) DO UPDATE "
    "SET position = excluded.position, chain_hash = excluded.chain_hash, "
    "state_sha256 = excluded.state_sha256, key_id = excluded.key_id, signature = excluded.signature"
)
# Seal and chain row per wanted version: (version, 5 seal columns, position, chain hash).
_BOUND_COLUMNS = "k.v, s.position, s.chain_hash, s.state_sha256, s.key_id, s.signature, "
SQLITE_BOUND_SQL = (
    "WITH k(v) AS (VALUES {values}) SELECT " + _BOUND_COLUMNS + "e.rowid, e.chain_hash FROM k "
    "LEFT JOIN {seals} s ON s.originator_id = ? AND s.originator_version = k.v "
    "LEFT JOIN {events} e ON e.originator_id = ? AND e.originator_version = k.v AND e.chain_hash IS NOT NULL"
)
PG_BOUND_SQL = (
    "SELECT " + _BOUND_COLUMNS + "c.position, c.chain_hash FROM unnest(?::bigint[]) AS k(v) "
    "LEFT JOIN {seals} s ON s.originator_id = ? AND s.originator_version = k.v "
    "LEFT JOIN {events} e ON e.originator_id = ? AND e.originator_version = k.v "
    "LEFT JOIN {chain} c ON c.notification_id = e.notification_id"
)
SQLITE_SEALS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SEALS_TABLE} ("
    "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, position INTEGER NOT NULL, "
    "chain_hash BLOB NOT NULL, state_sha256 BLOB NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL, "
    "PRIMARY KEY (originator_id, originator_version))"
)
PG_SEALS_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}." + SEALS_TABLE + " ("
    "originator_id text NOT NULL, originator_version bigint NOT NULL, position bigint NOT NULL, "
    "chain_hash bytea NOT NULL, state_sha256 bytea NOT NULL, key_id text NOT NULL, signature bytea NOT NULL, "
    "PRIMARY KEY (originator_id, originator_version))"
)

_log = logging.getLogger("ledger.snapshots")


class SealedSnapshots:
    """What both backends' snapshot recorders add to the library's: sealing on insert,
    checking on select. A snapshot that does not hold is left out of what `select_events`
    returns (so the library folds the events instead), logged, and reported through
    `report_fault` (the application's `integrity_faults.add`) as a `snapshot-mismatch`
    Fault. A recorder not attached to a chain recorder refuses every snapshot."""

    sealer: Signer | None = None  # the ledger's root key; None: this process writes no snapshots
    chain_recorder: Any = None
    report_fault: Callable[[Any], bool] | None = None
    chain_at_sql: str
    _root_public: bytes | None = None

    def attach(self, chain_recorder: Any, report_fault: Callable[[Any], bool] | None) -> None:
        self.chain_recorder = chain_recorder
        self.report_fault = report_fault

    def _sql(self, sql: str) -> str:
        prefix = getattr(self.chain_recorder, "schema_prefix", "")
        return self.chain_recorder.q(sql.replace("{seals}", prefix + SEALS_TABLE))

    def _stored_id(self, oid: Any) -> Any:
        """An originator id as the events table stores it."""
        raise NotImplementedError

    # Writing: in the library's insert transaction --------------------------------------

    def _seal_in(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
        sealer = self.sealer
        if not isinstance(sealer, Signer) or self.chain_recorder is None:
            raise MissingSignerError("snapshots are sealed by the ledger's root key, which this process "
                                     "does not hold: no snapshot is written")
        for s in stored_events:
            oid = canonical_id(s.originator_id)
            cursor.execute(self._sql(self.chain_at_sql), (self._stored_id(s.originator_id), s.originator_version))
            row = cursor.fetchone()
            if row is None:
                raise LedgerError(f"no logged event at {oid} version {s.originator_version} "
                                  "to bind its snapshot to: no snapshot is written")
            position, chained = _values(row)
            seal = make_seal(sealer, originator_id=oid, version=s.originator_version, position=int(position),
                             chain_hash=bytes(chained), topic=s.topic, state=s.state)
            cursor.execute(self._sql(SEAL_UPSERT_SQL), (
                seal.originator_id, seal.originator_version, seal.position, seal.chain_hash,
                seal.state_sha256, seal.key_id, seal.signature))

    # Reading: every snapshot checked before it is used ---------------------------------

    def select_events(self, originator_id: Any, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        """The library's select, less the snapshots whose seal does not hold. Asked for
        the newest (desc with a limit, as loading asks), it looks further back for as
        many as were asked when the newest were refused."""
        select = super().select_events  # type: ignore[misc]
        batch = select(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        if not batch:
            return batch
        kept = self._trusted(batch)
        asked = limit
        while desc and asked is not None and limit is not None and len(batch) == asked and len(kept) < limit:
            asked = limit - len(kept)
            batch = select(originator_id, gt=gt, lte=batch[-1].originator_version - 1, desc=True, limit=asked)
            kept += self._trusted(batch)
        return kept

    def select_unchecked(self, originator_id: str, version: int) -> Sequence[StoredEvent]:
        """The stored snapshot of one originator (canonical id text) at `version`, as
        stored (a list of at most one): for `check_snapshots`, which checks it itself."""
        return super().select_events(  # type: ignore[misc,no-any-return]
            _as_uuid(originator_id), gt=version - 1, lte=version)

    def _trusted(self, stored: Sequence[StoredEvent]) -> list[StoredEvent]:
        if not stored:
            return []
        oid = canonical_id(stored[0].originator_id)
        try:
            root = self.root_public_key()
            bound = self.seals_for(oid, [s.originator_version for s in stored])
        except SealError as e:
            for s in stored:
                self._refused(oid, s.originator_version, None, str(e))
            return []
        kept = []
        for s in stored:
            seal, chained = bound.get(s.originator_version, (None, None))
            try:
                check_seal(seal, originator_id=oid, version=s.originator_version, topic=s.topic,
                           state=s.state, chained=chained, root_public_key=root)
            except SealError as e:
                self._refused(oid, s.originator_version, chained[0] if chained else None, str(e))
                continue
            kept.append(s)
        return kept

    def _refused(self, oid: str, version: int, position: int | None, detail: str) -> None:
        fault = snapshot_mismatch(oid, version, position, detail)
        if self.report_fault is None or self.report_fault(fault):
            _log.warning("snapshot of %s at version %s not used (position %s): %s", oid, version, position, detail)

    def root_public_key(self) -> bytes:
        """The root public key of position 1 (its key ring start), read once."""
        if self._root_public is None:
            if self.chain_recorder is None:
                raise SealError("the snapshot store is not attached to the ledger's chain")
            rows = self.chain_recorder.read_chain(1, 1)
            row = rows[0] if rows else None
            self._root_public = root_public_key_of(row.topic if row else None, row.state if row else None)
        return self._root_public

    def seals_for(self, originator_id: str, versions: Sequence[int]) -> dict[int, tuple[Seal | None, Any]]:
        """Per version: its seal (None: none) and the (position, chain hash) of the logged
        event at (originator_id, version) (None: the chain holds none)."""
        if self.chain_recorder is None:
            raise SealError("the snapshot store is not attached to the ledger's chain")
        out: dict[int, tuple[Seal | None, Any]] = {}
        stored_id = self._stored_id(_as_uuid(originator_id))
        for r in self._bound_rows(originator_id, stored_id, sorted(set(versions))):
            v, position, chain_hash, digest, kid, signature, at, chained = r
            seal = None if signature is None else Seal(
                originator_id, int(v), int(position), bytes(chain_hash), bytes(digest), str(kid), bytes(signature))
            out[int(v)] = (seal, None if at is None else (int(at), bytes(chained)))
        return out

    def _bound_rows(self, originator_id: str, stored_id: Any, versions: list[int]) -> list[tuple]:
        raise NotImplementedError

    def snapshot_index(self) -> list[tuple[str, int]]:
        """(canonical originator id, version) of every stored snapshot, grouped by originator
        and in version order within each."""
        raise NotImplementedError

    def ensure_tables(self) -> None:
        """Create the snapshots and seals tables where either is missing (a ledger made
        before snapshots were sealed); reads only, when both are there.

        The snapshots of a ledger made before seals are unsealed derived data that can
        never be used: they are removed when the seals table is made (the events are the
        record; sealed snapshots are taken again as the log grows), so that verification
        does not report each of them as a fault for ever after the upgrade."""
        if not self._tables_present():
            self.create_table()  # type: ignore[attr-defined]
            self._discard_unsealed()

    def _discard_unsealed(self) -> None:
        raise NotImplementedError

    def _tables_present(self) -> bool:
        raise NotImplementedError


def snapshot_mismatch(oid: str, version: int, position: int | None, detail: str) -> Any:
    from ledger.snapshots import mismatch

    return mismatch(oid, version, position, detail)


def _values(row: Any) -> tuple:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class SealedSQLiteSnapshotRecorder(SealedSnapshots, SQLiteAggregateRecorder):
    """The library's SQLite snapshot recorder, sealed (see SealedSnapshots)."""

    chain_at_sql = SQLITE_CHAIN_AT_SQL

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), SQLITE_SEALS_DDL]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # Inside the library's write transaction (`insert_events`): the snapshot rows, then
        # their seals; both commit or neither.
        super()._insert_events(c, stored_events, **kwargs)
        self._seal_in(c, stored_events)
        return None

    def _stored_id(self, oid: Any) -> Any:
        return oid.hex if isinstance(oid, UUID) else oid

    def _bound_rows(self, originator_id: str, stored_id: Any, versions: list[int]) -> list[tuple]:
        rows: list[tuple] = []
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(versions), SQLITE_IN_CHUNK):
                part = versions[i:i + SQLITE_IN_CHUNK]
                sql = self._sql(SQLITE_BOUND_SQL.replace("{values}", ",".join(["(?)"] * len(part))))
                c.execute(sql, [*part, originator_id, stored_id])
                rows += [tuple(r) for r in c.fetchall()]
        return rows

    def snapshot_index(self) -> list[tuple[str, int]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT originator_id, originator_version FROM {self.events_table_name} "
                      "ORDER BY originator_id, originator_version")
            return [(canonical_id(r[0]), int(r[1])) for r in c.fetchall()]

    def _discard_unsealed(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.events_table_name}")  # the seals table is new: none is sealed

    def _tables_present(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                      (self.events_table_name, SEALS_TABLE))
            return int(c.fetchone()[0]) == 2


class SealedPostgresSnapshotRecorder(SealedSnapshots, PostgresAggregateRecorder):
    """The library's PostgreSQL snapshot recorder, sealed (see SealedSnapshots)."""

    chain_at_sql = PG_CHAIN_AT_SQL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from psycopg.sql import SQL

        self.sql_create_statements.append(SQL(PG_SEALS_DDL.replace("{s}", f'"{self.datastore.schema}"')))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library inserts on an autocommit connection: the snapshot rows and their
        # seals are made one transaction here, so both commit or neither.
        with curs.connection.transaction():
            super()._insert_stored_events(curs, stored_events, **kwargs)
            self._seal_in(curs, stored_events)

    def _stored_id(self, oid: Any) -> Any:
        return oid if self.datastore.originator_id_type == "uuid" or not isinstance(oid, UUID) else str(oid)

    def _bound_rows(self, originator_id: str, stored_id: Any, versions: list[int]) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._sql(PG_BOUND_SQL), (versions, originator_id, stored_id))
            return curs.fetchall()

    def snapshot_index(self) -> list[tuple[str, int]]:
        from psycopg.sql import SQL, Identifier

        sql = SQL("SELECT originator_id, originator_version FROM {}.{} ORDER BY originator_id, "
                  "originator_version").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(sql)
            return [(canonical_id(r[0]), int(r[1])) for r in curs.fetchall()]

    def _discard_unsealed(self) -> None:
        from psycopg.sql import SQL, Identifier

        # The seals table is new: none of the snapshots is sealed.
        sql = SQL("DELETE FROM {}.{}").format(Identifier(self.datastore.schema),
                                              Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(sql)

    def _tables_present(self) -> bool:
        schema = self.datastore.schema
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute("SELECT to_regclass(%s), to_regclass(%s)", (
                f'"{schema}"."{self.events_table_name}"', f'"{schema}"."{SEALS_TABLE}"'))
            row = curs.fetchone()
            return row is not None and None not in row


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, whose snapshot store is sealed (PERSISTENCE_MODULE
    names it: see LedgerApplication)."""

    aggregate_recorder_class = SealedSQLiteSnapshotRecorder


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, whose snapshot store is sealed."""

    aggregate_recorder_class = SealedPostgresSnapshotRecorder
