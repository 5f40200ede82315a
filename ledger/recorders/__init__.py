"""Signed, chained application recorders for SQLite and PostgreSQL.

They subclass the `eventsourcing` library's own application recorders and add, inside
the library's write transaction, what the ledger needs per event: its position, the
signer's key id, the Ed25519 signature over the stored bytes and row identity, and the
chain hash linking it to the previous position. Signing happens before the transaction
opens (it needs only the bytes and identity), so the write lock is held only for the
inserts. They use the library's own extension points only (its insert hooks, the kwargs
of `save` that reach them, a Factory subclass named by PERSISTENCE_MODULE): see
tests/test_library_hooks.py, which fails by name if an upgrade changes one.

Where those columns live differs by backend, for speed; what is read back does not:

- PostgreSQL keeps them in a `ledger_chain` table beside the events (positions are dense
  there while notification ids have gaps), extended under the library's EXCLUSIVE lock.
- SQLite keeps them in the events row itself, and the position is the row id (dense:
  SQLite gives each row max+1 and a rolled-back insert gives nothing away). A second
  table cost a second and third B-tree page per commit (4.7 WAL frames against the
  library's 2.6), which with fsync'd commits made signed saves 20% slower than raw ones;
  one row per event writes 2.75. A view named `ledger_chain` presents the same columns,
  so every reader's SQL is the same on both backends.

Modules: `chain` (what both backends share: tables, signing, chain rows, receipts,
reading rows back), `sqlite`, `postgres`, `sealed` (the sealed snapshot recorders) and
`factories`. The names below are re-exported so that `ledger.recorders:<name>` topics
keep resolving.
"""

from ledger.recorders.chain import MAX_PAYLOAD_BYTES, canonical_id, canonical_ids, unchained_rows
from ledger.recorders.factories import LedgerPostgresFactory, LedgerSQLiteFactory
from ledger.recorders.postgres import SignedPostgresApplicationRecorder
from ledger.recorders.sealed import SealedSnapshots
from ledger.recorders.sqlite import SignedSQLiteApplicationRecorder

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "LedgerPostgresFactory",
    "LedgerSQLiteFactory",
    "SealedSnapshots",
    "SignedPostgresApplicationRecorder",
    "SignedSQLiteApplicationRecorder",
    "canonical_id",
    "canonical_ids",
    "unchained_rows",
]
