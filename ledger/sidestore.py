"""Tables beside the log, in the ledger's own database: the side-table adapter.

Credentials, API tokens, sessions, sign-in throttling, idempotency keys and verification
runs are not ledger facts (nothing about them is signed or chained) but every server
worker must see them, so they live in the ledger's database. They are reached through
this adapter, over a connection pool of its own (the library's public datastores), never
through the event recorder: nothing here can read or write the log's tables.

    store = app.side_store                 # one per ledger application, closed with it
    store.create([f"CREATE TABLE IF NOT EXISTS {store.table('x')} (...)"])
    store.execute(f"INSERT INTO {store.table('x')} VALUES (?, ?)", (a, b))
    rows = store.fetch(f"SELECT ... FROM {store.table('x')} WHERE k = ?", (k,))

Statements use `?` placeholders on both backends; `table(name)` qualifies a name with the
ledger's PostgreSQL schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import PersistenceError

from ledger.backend import Backend

# Names of the log's own tables, which side statements must never name.
_LOG_TABLES = ("stored_events", "ledger_chain", "ledger_private_keys", "ledger_checkpoints",
               "ledger_meta", "snapshots")


class SideStore:
    """The side tables of one ledger database (see the module's docstring)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        env = backend.env
        if backend.kind == "sqlite":
            from eventsourcing.sqlite import SQLiteDatastore

            self.postgres = False
            self.prefix = ""
            self._datastore: Any = SQLiteDatastore(env["SQLITE_DBNAME"],
                                                   lock_timeout=int(env["SQLITE_LOCK_TIMEOUT"]))
        else:
            from eventsourcing.postgres import PostgresDatastore

            self.postgres = True
            self.prefix = f'"{env["POSTGRES_SCHEMA"]}".'
            self._datastore = PostgresDatastore(
                env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"],
                env["POSTGRES_USER"], env["POSTGRES_PASSWORD"],
                connect_timeout=float(env["POSTGRES_CONNECT_TIMEOUT"]), pool_size=1, max_overflow=8,
                lock_timeout=int(env["POSTGRES_LOCK_TIMEOUT"]), schema=env["POSTGRES_SCHEMA"],
            )

    @property
    def datastore(self) -> Any:
        """The library's datastore behind this adapter, for side-table adapters that need
        the driver's cursor (the read models: COPY, advisory locks, BEGIN IMMEDIATE)."""
        return self._datastore

    def table(self, name: str) -> str:
        """`name` as statements must write it (schema-qualified on PostgreSQL)."""
        if name in _LOG_TABLES:
            raise ValueError(f"{name} is one of the log's tables: the side store does not touch it")
        return self.prefix + name

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in a transaction of its own; the number of rows it changed."""
        with self._datastore.transaction(commit=True) as wrapped:
            cursor = _driver_cursor(wrapped)
            cursor.execute(self._sql(sql), tuple(params))
            return int(cursor.rowcount)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of one query, as tuples."""
        with self._datastore.transaction(commit=False) as wrapped:
            cursor = _driver_cursor(wrapped)
            cursor.execute(self._sql(sql), tuple(params))
            return _tuples(cursor.fetchall())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """Several statements, committed together: yields `run(sql, params) -> rows`."""
        with self._datastore.transaction(commit=True) as wrapped:
            cursor = _driver_cursor(wrapped)

            def run(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
                cursor.execute(self._sql(sql), tuple(params))
                return [] if cursor.description is None else _tuples(cursor.fetchall())
            yield run

    def create(self, statements: Sequence[str]) -> None:
        """Run `statements` (CREATE ... IF NOT EXISTS): idempotent, and safe when workers
        race (two PostgreSQL sessions creating one table at once: one loses, tries again)."""
        for attempt in range(3):
            try:
                for sql in statements:
                    self.execute(sql)
                return
            except PersistenceError:
                if attempt == 2:
                    raise

    def close(self) -> None:
        self._datastore.close()


def _driver_cursor(cursor: Any) -> Any:
    """The driver's own cursor (the library wraps sqlite3's, without its rowcount)."""
    return getattr(cursor, "sqlite_cursor", cursor)


def _tuples(rows: Sequence[Any]) -> list[tuple]:
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
