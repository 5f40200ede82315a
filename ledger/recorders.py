"""Signed, chained application recorders for SQLite and PostgreSQL.

They subclass the `eventsourcing` library's own application recorders and add, inside
the library's write transaction, one row per event to `ledger_chain`: the position, the
signer's key id, the Ed25519 signature over the stored bytes and row identity, and the
chain hash linking it to the previous row. Signing happens before the transaction opens
(it needs only the bytes and identity), so the write lock is held only for the inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.errors import MissingSignerError, VersionConflictError
from ledger.hashing import GENESIS_HASH, chain_hash, record_hash
from ledger.keys import Signer
from ledger.rows import ChainRow, UnchainedRow

CHAIN_TABLE = "ledger_chain"
KEYS_TABLE = "ledger_private_keys"
CHECKPOINTS_TABLE = "ledger_checkpoints"
META_TABLE = "ledger_meta"
HEAD_SQL = "SELECT position, chain_hash FROM {chain} ORDER BY position DESC LIMIT 1"
INSERT_CHAIN_SQL = "INSERT INTO {chain} VALUES (?,?,?,?,?,?,?)"


def sign_events(stored_events: Sequence[StoredEvent], signer: Any) -> list[tuple[bytes, bytes]]:
    """(record hash, signature) per event, by the person acting."""
    if not isinstance(signer, Signer):
        raise MissingSignerError(
            "refusing to record unsigned events: pass signer=<the acting person's Signer>"
        )
    out = []
    for s in stored_events:
        h = record_hash(str(s.originator_id), s.originator_version, s.topic, s.state)
        out.append((h, signer.sign(h)))
    return out


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


class ChainQueries:
    """SQL shared by both backends; `?` placeholders are rewritten for psycopg."""

    events_table_name: str
    placeholder = "?"
    rowid = "rowid"
    schema_prefix = ""

    def q(self, sql: str) -> str:
        p = self.schema_prefix
        for name, table in (
            ("{events}", self.events_table_name), ("{chain}", CHAIN_TABLE), ("{keys}", KEYS_TABLE),
            ("{checkpoints}", CHECKPOINTS_TABLE), ("{meta}", META_TABLE),
        ):
            sql = sql.replace(name, p + table)
        sql = sql.replace("{nid}", self.rowid)
        return sql if self.placeholder == "?" else sql.replace("?", "%s")

    def chain_select(self) -> str:
        return self.q(
            "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, "
            "c.key_id, c.signature, c.chain_hash, e.originator_id AS e_oid, "
            "e.originator_version AS e_ver, e.topic, e.state "
            "FROM {chain} c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
        )


def _to_chain_row(r: Any) -> ChainRow:
    e_oid = r[7]
    return ChainRow(
        int(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]), bytes(r[5]), bytes(r[6]),
        None if e_oid is None else str(_as_uuid(e_oid)),
        None if r[8] is None else int(r[8]),
        r[9],
        None if r[10] is None else bytes(r[10]),
    )


def _as_uuid(value: Any) -> UUID | str:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return str(value)


class SignedSQLiteApplicationRecorder(SQLiteApplicationRecorder, ChainQueries):
    """SQLite: the insert takes the write lock first, then the chain head is read."""

    def construct_create_table_statements(self) -> list[str]:
        return super().construct_create_table_statements() + [
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "position INTEGER PRIMARY KEY, notification_id INTEGER NOT NULL UNIQUE, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "key_id TEXT NOT NULL, signature BLOB NOT NULL, chain_hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} ("
            "key_id TEXT PRIMARY KEY, owner TEXT NOT NULL, pkcs8 BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, note TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        signed = sign_events(stored_events, kwargs.get("signer"))
        key = kwargs["signer"].key_id
        try:
            with self.datastore.transaction(commit=True) as c:
                ids = self._insert_events(c, stored_events, **kwargs)
                c.execute(self.q(HEAD_SQL))
                row = c.fetchone()
                head = (row[0], bytes(row[1])) if row else None
                c.executemany(
                    self.q(INSERT_CHAIN_SQL),
                    chain_params(stored_events, ids, signed, head, key),
                )
        except IntegrityError as e:
            raise VersionConflictError(_conflict_message(stored_events)) from e
        return ids

    # Reading is the same SQL on both backends; see ChainQueries.
    def read_chain(self, lo: int, hi: int, topics: Sequence[str] = ()) -> list[ChainRow]:
        sql, params = _range_sql(self, lo, hi, topics)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [_to_chain_row(tuple(r)) for r in c.fetchall()]

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
        signed = sign_events(stored_events, kwargs.get("signer"))
        key = kwargs["signer"].key_id
        if not stored_events:
            return []
        try:
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                # Takes the EXCLUSIVE lock on the events table, then inserts: commit order
                # is insert order, so reading the chain head now is safe.
                self._insert_stored_events(curs, stored_events, **kwargs)
                ids = [r["notification_id"] for r in curs.fetchall()]
                curs.execute(self.q(HEAD_SQL))
                row = curs.fetchone()
                head = (row["position"], bytes(row["chain_hash"])) if row else None
                curs.executemany(
                    self.q(INSERT_CHAIN_SQL),
                    chain_params(stored_events, ids, signed, head, key),
                )
        except IntegrityError as e:
            raise VersionConflictError(_conflict_message(stored_events)) from e
        return ids

    def read_chain(self, lo: int, hi: int, topics: Sequence[str] = ()) -> list[ChainRow]:
        sql, params = _range_sql(self, lo, hi, topics)
        return [_to_chain_row(r) for r in self.fetch(sql, params, raw=True)]

    def fetch(self, sql: str, params: Sequence[Any] = (), raw: bool = False) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql if raw else self.q(sql), params)
            return [tuple(r.values()) for r in curs.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(self.q(sql), params)


def _range_sql(rec: ChainQueries, lo: int, hi: int, topics: Sequence[str]) -> tuple[str, list]:
    sql = rec.chain_select() + rec.q("WHERE c.position >= ? AND c.position <= ? ")
    params: list[Any] = [lo, hi]
    if topics:
        sql += rec.q(f"AND e.topic IN ({','.join('?' * len(topics))}) ")
        params += list(topics)
    return sql + "ORDER BY c.position", params


def unchained_rows(rec: Any) -> list[UnchainedRow]:
    """Stored events that no chain row points at."""
    rows = rec.fetch(
        "SELECT e.{nid}, e.originator_id, e.originator_version, e.topic FROM {events} e "
        "WHERE NOT EXISTS (SELECT 1 FROM {chain} c WHERE c.notification_id = e.{nid}) "
        "ORDER BY e.{nid}"
    )
    return [UnchainedRow(int(r[0]), str(_as_uuid(r[1])), int(r[2]), r[3]) for r in rows]


def _conflict_message(stored_events: Sequence[StoredEvent]) -> str:
    first = stored_events[0]
    return (
        f"record {first.originator_id} was changed by someone else "
        f"(version {first.originator_version} already exists); reload and try again"
    )
