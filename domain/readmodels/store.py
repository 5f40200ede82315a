"""Where the read models live: plain tables beside the ledger, in the same database,
reached through the ledger's side-table adapter (`app.side_store`), never the event
recorder: the read models' own adapter.

SQLite and PostgreSQL differ only in placeholders, the schema prefix, and how a writer
takes the lock that makes "check the tracking position, write rows, advance it" one
atomic step. Each projection's position is a row of the read models' own tracking table
(`rm_tracking`), so a batch of read-model rows and its position commit in ONE
transaction.

Money is stored as decimal text and summed in Python with `Decimal` (SQLite has no
decimal type and would sum text as floats); dates and instants as ISO text, instants
always with microseconds and a `Z`, so text order is time order on both backends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from domain.errors import DomainError
from domain.readmodels.schema import TABLES, create_statements, drop_statements, index_statements

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_NO_OFFSET = timedelta(0)


def instant_text(value: datetime) -> str:
    """A UTC instant as fixed-width ISO text (sorts like the instants it stands for)."""
    if value.utcoffset() != _NO_OFFSET:
        value = value.astimezone(UTC)
    # isoformat with fixed microseconds is several times faster than strftime.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, INSTANT_FORMAT).replace(tzinfo=UTC)


def money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class LostRaceError(Exception):
    """Another process advanced the projection meanwhile; this batch was not written."""


class ReadModelError(DomainError):
    """The read models cannot answer (they stand at a position the log no longer has)."""

    code = "read-models"


class ReadStore:
    """The read-model tables of one ledger database, and their tracking table."""

    def __init__(self, app: Any) -> None:
        self.app = app
        side = app.side_store  # its pool, closed with the application
        self.postgres = side.postgres
        self.prefix = side.prefix
        self.datastore = side.datastore
        self._sql: dict[str, str] = {}
        self._ready = False

    # SQL text ----------------------------------------------------------------------------

    def q(self, sql: str) -> str:
        """`{table}` names -> (schema-qualified) read-model tables; `?` -> `%s` on PostgreSQL."""
        out = self._sql.get(sql)
        if out is None:
            out = sql
            for name in TABLES:
                out = out.replace("{" + name + "}", f"{self.prefix}rm_{name}")
            if self.postgres:
                out = out.replace("?", "%s")
            self._sql[sql] = out
        return out

    # Tables ------------------------------------------------------------------------------

    def ensure_tables(self) -> None:
        """Create the read-model and tracking tables once (idempotent, safe to race)."""
        if self._ready:
            return
        for attempt in range(3):
            try:
                with self.writing("schema") as w:
                    for statement in create_statements(not self.postgres):
                        w.run(statement)
                    _drop_untracked(w)
                break
            except PersistenceError:
                # Two processes creating the same PostgreSQL table at once: one loses
                # with a unique violation on the catalogue; the second try finds it.
                if attempt == 2:
                    raise
        self._ready = True

    def drop_and_recreate(self, names: Sequence[str], *, indexes: bool = True) -> None:
        """Drop every read-model table and forget the projections' positions, atomically,
        holding every projection's writer lock (a writer that read before the drop then
        finds its position gone and starts again from zero). `indexes=False` leaves the
        secondary indexes to `create_indexes`, after a bulk load (building an index from
        the loaded rows costs a fraction of maintaining it row by row)."""
        self.ensure_tables()
        with self.writing("schema", *names) as w:
            for statement in drop_statements(self.prefix):
                w.run(statement)
            for statement in create_statements(not self.postgres, indexes):
                w.run(statement)
            for name in names:
                w.forget(name)

    def create_indexes(self) -> None:
        """The secondary indexes, where missing (idempotent)."""
        with self.writing("schema") as w:
            for statement in index_statements():
                w.run(statement)

    # Transactions ------------------------------------------------------------------------

    @contextmanager
    def writing(self, *locks: str) -> Iterator[Writer]:
        """One write transaction, holding the named writers' locks throughout (SQLite has
        a single write lock, which stands for all of them)."""
        if self.postgres:
            with self.datastore.transaction(commit=True) as cursor:
                for lock in sorted(locks):  # one order everywhere: no deadlock
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key(lock),))
                yield Writer(self, cursor)
            return
        with self._sqlite_immediate() as cursor:
            yield Writer(self, cursor)

    @contextmanager
    def _sqlite_immediate(self) -> Iterator[Any]:
        # BEGIN IMMEDIATE takes SQLite's single write lock before anything is read, so
        # what this transaction reads is the latest committed state and stays so until
        # it commits. The library's transaction() issues a deferred BEGIN instead.
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cursor.sqlite_cursor.close()

    def _lock_key(self, lock: str) -> int:
        digest = hashlib.sha256(f"{self.prefix}pmo-readmodels:{lock}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """One read transaction: every query in it sees the same committed state."""
        if self.postgres:
            with self._pg_snapshot() as cursor:
                yield Reader(self, cursor)
            return
        with self.datastore.transaction(commit=False) as cursor:
            yield Reader(self, cursor)

    @contextmanager
    def _pg_snapshot(self) -> Iterator[Any]:
        # The isolation level in the BEGIN itself (one round trip, not BEGIN then SET
        # TRANSACTION), and ended by COMMIT: psycopg drops its prepared statements on
        # every ROLLBACK (and sends DEALLOCATE ALL), which made each later query of the
        # connection be parsed and planned again. Nothing is written: COMMIT ends it
        # exactly as ROLLBACK would. The pool's connections are in autocommit mode.
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            cursor.execute("COMMIT")

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """One query. On PostgreSQL it runs alone on an autocommit connection (one
        statement sees one committed state, as in its own transaction, for one round
        trip instead of three)."""
        if self.postgres:
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                return Reader(self, cursor).fetch(sql, params)
        with self.reading() as r:
            return r.fetch(sql, params)

    def originator(self, aggregate_id: UUID) -> Any:
        """An aggregate id as the library stores it: uuid on PostgreSQL, hex text on SQLite."""
        return aggregate_id if self.postgres else aggregate_id.hex

    # Tracking ----------------------------------------------------------------------------

    def tracked(self, name: str) -> int:
        """The notification id the projection `name` has processed up to (0: none)."""
        self.ensure_tables()
        return _position(self.fetch("SELECT notification_id FROM {tracking} WHERE name = ?", (name,)))


class Reader:
    def __init__(self, store: ReadStore, cursor: Any) -> None:
        self.store, self.cursor = store, cursor

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.cursor.execute(self.store.q(sql), tuple(params))
        return _plain_rows(self.cursor.fetchall())


class Writer(Reader):
    """The cursor of a write transaction, with the projection's tracking steps."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.store.q(sql), tuple(params))

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.store.q(sql), rows)

    def insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows to a read-model table: COPY on PostgreSQL (a pipelined executemany
        still costs a server round of work per row), executemany on SQLite. Each row goes
        through psycopg's `write_row`, which its compiled build formats in C: twice as fast
        as making COPY's text in Python, the escaping included."""
        if not rows:
            return
        if self.store.postgres:
            with self.cursor.copy(f"COPY {self.store.q('{' + table + '}')} FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
            return
        marks = ",".join("?" * len(rows[0]))
        self.cursor.executemany(self.store.q(f"INSERT INTO {{{table}}} VALUES ({marks})"), rows)

    def delete_keys(self, table: str, columns: Sequence[str], keys: Sequence[Sequence[str]]) -> None:
        """Delete the rows whose text `columns` equal one of `keys`: one statement on
        PostgreSQL (an executemany costs a server round of work per key)."""
        if not keys:
            return
        if self.store.postgres:
            arrays = ", ".join("%s::text[]" for _ in columns)
            self.cursor.execute(
                self.store.q(f"DELETE FROM {{{table}}} WHERE ({', '.join(columns)}) IN "
                             f"(SELECT * FROM unnest({arrays}))"),
                [list(column) for column in zip(*keys, strict=True)])
            return
        where = " AND ".join(f"{c} = ?" for c in columns)
        self.cursor.executemany(self.store.q(f"DELETE FROM {{{table}}} WHERE {where}"), keys)

    def claim(self, name: str, expected: int) -> None:
        """Refuse to write unless the projection is still where this batch started.

        The lock is held, so nobody moves the position until commit; `advance` then
        refuses any position not beyond the stored one, a second guard against counting
        an event twice."""
        found = self.tracked(name)
        if found != expected:
            raise LostRaceError(f"{name} is at {found}, not {expected}")

    def tracked(self, name: str) -> int:
        return _position(self.fetch("SELECT notification_id FROM {tracking} WHERE name = ?", (name,)))

    def advance(self, name: str, notification_id: int) -> None:
        """Move the projection's position forward (never back, never standing still)."""
        found = self.tracked(name)
        if notification_id <= found:
            raise ReadModelError(f"{name} would go from notification {found} to "
                                 f"{notification_id}: positions only move forward")
        self.run("DELETE FROM {tracking} WHERE name = ?", (name,))
        self.run("INSERT INTO {tracking} VALUES (?, ?)", (name, notification_id))

    def forget(self, name: str) -> None:
        """Delete the projection's tracking row: it starts again from position 1."""
        self.run("DELETE FROM {tracking} WHERE name = ?", (name,))


def _position(rows: list[tuple]) -> int:
    return int(rows[0][0]) if rows else 0


def _drop_untracked(w: Writer) -> None:
    """Rows with no tracking row beside them were written by a release that kept the
    positions in the library's tracking table: emptied, so the next catch-up writes them
    again from position 1 (rather than on top of themselves)."""
    if w.fetch("SELECT 1 FROM {tracking} LIMIT 1"):
        return
    if w.fetch("SELECT 1 FROM {events} LIMIT 1") or w.fetch("SELECT 1 FROM {findings} LIMIT 1"):
        for name in TABLES:
            w.run(f"DELETE FROM {{{name}}}")


def _plain_rows(rows: list[Any]) -> list[tuple]:
    """Rows as tuples of plain values: psycopg's rows are dicts (the library's row
    factory), SQLite's are sequences. Converted by whole rows, no generator per row;
    only rows holding a memoryview (a driver's blob) are converted value by value."""
    if not rows:
        return []
    out = [tuple(r.values()) for r in rows] if isinstance(rows[0], dict) else [tuple(r) for r in rows]
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
            if memoryview in map(type, r) else r for r in out]
