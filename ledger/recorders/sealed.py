"""Sealed snapshots: the library's snapshot recorders, each snapshot sealed by the root
key and checked against its seal and the chain on every read (ledger/snapshots.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteCursor
from psycopg.rows import tuple_row

from ledger.errors import LedgerError, MissingSignerError
from ledger.keys import Signer
from ledger.recorders.chain import as_uuid, canonical_id, row_values
from ledger.recorders.sqlite import SQLITE_IN_CHUNK
from ledger.snapshots import SEALS_TABLE, Seal, SealError, check_seal, make_seal, root_public_key_of

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
            position, chained = row_values(row)
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
            as_uuid(originator_id), gt=version - 1, lte=version)

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
        stored_id = self._stored_id(as_uuid(originator_id))
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
