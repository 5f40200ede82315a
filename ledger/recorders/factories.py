"""The library's factories, with sealed snapshot stores: `PERSISTENCE_MODULE` names
these (see LedgerApplication), which the library accepts in place of its modules."""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory

from ledger.recorders.sealed import SealedPostgresSnapshotRecorder, SealedSQLiteSnapshotRecorder


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, whose snapshot store is sealed (PERSISTENCE_MODULE
    names it: see LedgerApplication)."""

    aggregate_recorder_class = SealedSQLiteSnapshotRecorder


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, whose snapshot store is sealed."""

    aggregate_recorder_class = SealedPostgresSnapshotRecorder
