"""What both backends' signed recorders share: the ledger's tables, signing a save's
events, the chain rows and receipts they make, reading chain rows back, and the checks
on pre-signed (imported) records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.errors import EventTooLargeError, LedgerError, MissingSignerError
from ledger.hashing import GENESIS_HASH, chain_hash, record_hash
from ledger.keys import Signer
from ledger.receipts import Receipt
from ledger.receipts import now as receipt_time
from ledger.rows import ChainRow, UnchainedRow, column_as

CHAIN_TABLE = "ledger_chain"
KEYS_TABLE = "ledger_private_keys"
CHECKPOINTS_TABLE = "ledger_checkpoints"
META_TABLE = "ledger_meta"
HEAD_SQL = "SELECT position, chain_hash FROM {chain} ORDER BY position DESC LIMIT 1"
CHECKPOINT_INSERT_SQL = "INSERT INTO {checkpoints} (size, note) VALUES (?, ?)"


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
        oid = as_uuid(r.originator_id)
        if not isinstance(oid, UUID) or str(oid) != r.originator_id:
            raise LedgerError(f"{where}: originator id {r.originator_id!r} is not a UUID in canonical form")
        previous = chain_hash(previous, record_hash(r.originator_id, r.originator_version, r.topic, r.state),
                              r.signature)
        if previous != r.chain_hash:
            raise LedgerError(f"{where}: the chain hash recomputed from its record and signature "
                              f"({previous.hex()}) differs from the one it carries ({r.chain_hash.hex()})")
        out.append(oid)
    return out


def start_receipts(kwargs: dict[str, Any]) -> None:
    # An attempt that is tried again (the library retries a dropped PostgreSQL
    # connection) starts its receipts afresh: only the attempt that commits is reported.
    receipts = kwargs.get("receipts")
    if receipts is not None:
        receipts.clear()


@contextmanager
def receipts_only_if_committed(kwargs: dict[str, Any]) -> Iterator[None]:
    """Empty the save's receipts when it fails: a receipt says the event is in the log."""
    try:
        yield
    except BaseException:
        start_receipts(kwargs)
        raise


def make_receipts(stored_events: Sequence[StoredEvent], positions: Sequence[int],
                  signed: Sequence[tuple[bytes, bytes]], hashes: Sequence[bytes]) -> list[Receipt]:
    """The receipts of one save, from what its write transaction stored."""
    at = receipt_time()
    return [Receipt(p, str(s.originator_id), s.originator_version, s.topic, h, sig, ch, at)
            for s, p, (h, sig), ch in zip(stored_events, positions, signed, hashes, strict=True)]


def head_of(row: Any) -> tuple[int, bytes] | None:
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
        agree, `to_chain_rows` takes the whole column at once."""
        return self.q(
            "SELECT c.position, c.notification_id, c.originator_id, c.originator_version, "
            "c.key_id, c.signature, c.chain_hash, e.originator_id::text AS e_oid, "
            "e.originator_version AS e_ver, e.topic, e.state "
            "FROM {chain} c LEFT JOIN {events} e ON e.{nid} = c.notification_id "
        )


def to_chain_rows(rows: Iterable[Any]) -> list[ChainRow]:
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
    return str(as_uuid(value))


def as_uuid(value: Any) -> UUID | str:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return str(value)


def unchained_rows(rec: Any) -> list[UnchainedRow]:
    """Stored events that no chain position accounts for."""
    return rec.unchained_rows()


def to_unchained(rows: Iterable[Sequence[Any]]) -> list[UnchainedRow]:
    return [UnchainedRow(int(r[0]), str(as_uuid(r[1])), int(r[2]), r[3]) for r in rows]


def conflict_message(stored_events: Sequence[StoredEvent]) -> str:
    first = stored_events[0]
    return (
        f"record {first.originator_id} was changed by someone else "
        f"(version {first.originator_version} already exists); reload and try again"
    )


def row_values(row: Any) -> tuple:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
