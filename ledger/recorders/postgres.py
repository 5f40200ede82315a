"""PostgreSQL: the chain in a `ledger_chain` table beside the events, extended under the
EXCLUSIVE table lock the library's insert takes (see ledger/recorders/__init__.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row

from ledger.errors import LedgerError, VersionConflictError
from ledger.hashing import GENESIS_HASH
from ledger.keyring import KEYRING_ID
from ledger.recorders.chain import (
    CHAIN_TABLE,
    CHECKPOINT_INSERT_SQL,
    CHECKPOINTS_TABLE,
    HEAD_SQL,
    KEYS_TABLE,
    META_TABLE,
    ChainQueries,
    chain_params,
    conflict_message,
    head_of,
    make_receipts,
    presigned_ids,
    receipts_only_if_committed,
    row_values,
    sign_events,
    start_receipts,
    to_chain_rows,
    to_unchained,
)
from ledger.rows import ChainRow, UnchainedRow

# A save's own event, looked for after its retry met the event's version already taken.
_OWN_EVENT_SQL = ("SELECT position, notification_id, signature, chain_hash FROM {chain} "
                  "WHERE originator_id = %s AND originator_version = %s")
# PostgreSQL: all of a save's chain rows in one statement (executemany is a round trip
# per row's worth of work; unnest over arrays is one).
INSERT_CHAIN_UNNEST_SQL = (
    "INSERT INTO {chain} (position, notification_id, originator_id, originator_version, "
    "key_id, signature, chain_hash) SELECT p, n, o, v, %s, s, h FROM unnest("
    "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::bytea[], %s::bytea[]) "
    "AS t(p, n, o, v, s, h)"
)
# PostgreSQL, under the library's EXCLUSIVE lock: a save's events, with the chain head it
# extends and the key ring's version before it (the statement's snapshot: without this
# save's own events), in one round trip.
PG_INSERT_AND_HEAD_SQL = (
    "WITH ins AS (INSERT INTO {events} (originator_id, originator_version, topic, state) "
    "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) "
    "RETURNING notification_id) "
    "SELECT ins.notification_id, h.position, h.chain_hash, ("
    "SELECT MAX(originator_version) FROM {events} WHERE originator_id = %s) "
    "FROM ins LEFT JOIN "
    "(SELECT position, chain_hash FROM {chain} ORDER BY position DESC LIMIT 1) h ON true "
    "ORDER BY ins.notification_id"
)
# A save's events (and an import's: pre-signed records, whose chain rows then carry each
# row's own key id), over plain arrays, in order.
PG_INSERT_EVENTS_SQL = (
    "INSERT INTO {events} (originator_id, originator_version, topic, state) "
    "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) "
    "RETURNING notification_id"
)
INSERT_PRESIGNED_CHAIN_SQL = (
    "INSERT INTO {chain} (position, notification_id, originator_id, originator_version, "
    "key_id, signature, chain_hash) SELECT * FROM unnest("
    "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[], %s::bytea[], %s::bytea[])"
)
# PostgreSQL: a chain range less the signatures and chain hashes (`read_unsigned`).
UNSIGNED_SELECT = (
    "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, c.key_id, "
    "e.originator_id::text, e.originator_version, e.topic, e.state "
    "FROM {chain} c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
)


class _Refusal(BaseException):  # noqa: N818 - not an error of its own: it carries one
    """A save refused after the library's insert ran, carried out of it as a BaseException.

    The library (9.5.6) keeps an Exception raised in its later hooks and re-raises it after
    its transaction has committed; a BaseException passes through its handler, so the
    transaction rolls back (tests/test_library_hooks.py pins both). `insert_events`
    raises the error carried."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


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
        attempts: list[int] = []
        try:
            with receipts_only_if_committed(kwargs):
                return super().insert_events(stored_events, **{**kwargs, "signed": signed,
                                                               "attempts": attempts})
        except _Refusal as refusal:
            raise refusal.error from None
        except IntegrityError as e:
            # Tried again after a broken connection, the save may meet its own events: the
            # earlier attempt committed and only its answer was lost. Those are the same
            # records under the same signatures; anyone else's are a conflict.
            ids = self._committed_earlier(stored_events, signed, kwargs) if len(attempts) > 1 else None
            if ids is None:
                raise VersionConflictError(conflict_message(stored_events)) from e
            return ids

    def _committed_earlier(self, stored_events: Sequence[StoredEvent], signed: Sequence[tuple[bytes, bytes]],
                           kwargs: dict[str, Any]) -> list[int] | None:
        """The notification ids of `stored_events` when the log holds exactly these records
        (each signature the one this save made), with their receipts read from the log; else None."""
        rows = []
        for event, (_, signature) in zip(stored_events, signed, strict=True):
            found = self.fetch(_OWN_EVENT_SQL, (str(event.originator_id), event.originator_version))
            if len(found) != 1 or bytes(found[0][2]) != signature:
                return None
            rows.append(found[0])
        receipts = kwargs.get("receipts")
        if receipts is not None:
            receipts[:] = make_receipts(stored_events, [int(r[0]) for r in rows], signed,
                                        [bytes(r[3]) for r in rows])
        return [int(r[1]) for r in rows]

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's first hook of each attempt, inside its transaction: an attempt
        # that is tried again reports nothing of its own.
        start_receipts(kwargs)
        kwargs["attempts"].append(1)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's hook for the insert itself: the library's EXCLUSIVE lock and
        # notification, then the events over plain arrays (the library's insert builds a
        # composite value per event in Python), in one statement that also reads the
        # chain head and the key ring's version. The lock is held before that statement
        # starts, so its snapshot holds the head this save extends: no other save can
        # extend the chain until this one commits.
        for statement in self.lock_table_statements:
            curs.execute(statement, prepare=True)
        self._notify_channel(curs)
        curs.execute(self._insert_sql, (
            [e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
            [e.topic for e in stored_events], [e.state for e in stored_events],
            KEYRING_ID if self.datastore.originator_id_type != "text" else str(KEYRING_ID),
        ), prepare=True)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        # The library's hook after its insert: checks the key, then chains the rows.
        rows = [row_values(r) for r in curs.fetchall()]
        ids = [int(r[0]) for r in rows]
        key_check = kwargs.get("key_check")
        if key_check is not None and rows:  # the key ring's version before this save
            try:
                key_check(rows[0][3])
            except Exception as e:
                raise _Refusal(e) from e
        head = head_of(rows[0][1:3]) if rows and rows[0][1] is not None else None
        signed, key = kwargs["signed"], kwargs["signer"].key_id
        # Should the insert give fewer ids than events, zip refuses (strict) the same way:
        chained = chain_params(stored_events, ids, signed, head, key) if len(ids) == len(stored_events) else None
        if chained is None:
            raise _Refusal(ProgrammingError(f"inserted {len(ids)} of {len(stored_events)} events"))
        receipts = kwargs.get("receipts")
        if receipts is not None:
            receipts[:] = make_receipts(stored_events, [r[0] for r in chained], signed, [r[6] for r in chained])
        curs.execute(self.q(INSERT_CHAIN_UNNEST_SQL), (
            key, [r[0] for r in chained], [r[1] for r in chained], [r[2] for r in chained],
            [r[3] for r in chained], [r[5] for r in chained], [r[6] for r in chained],
        ), prepare=True)
        return ids

    @property
    def _insert_sql(self) -> str:
        id_type = "text" if self.datastore.originator_id_type == "text" else "uuid"
        return self.q(PG_INSERT_AND_HEAD_SQL.replace("{id_type}", id_type))

    @property
    def _insert_arrays_sql(self) -> str:
        id_type = "text" if self.datastore.originator_id_type == "text" else "uuid"
        return self.q(PG_INSERT_EVENTS_SQL.replace("{id_type}", id_type))

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
            head = head_of(curs.fetchone()) or (0, GENESIS_HASH)
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
        curs.execute(self._insert_arrays_sql, (
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
                return to_chain_rows(curs.fetchall())
        return to_chain_rows(self._range_rows(self.chain_select(), lo, hi))

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
        return to_chain_rows(rows)

    def unchained_rows(self) -> list[UnchainedRow]:
        return to_unchained(self.fetch(
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
