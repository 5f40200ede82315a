"""Helpers shared by the ledger tests: test aggregates, tampering and inspection helpers.

The aggregates live here (not in a test module) so their topics, `tests.support:Counter`,
resolve the same way in the test process, in spawned worker processes and in the crash
writer subprocess.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.hashing import chain_hash, record_hash
from ledger.keys import Signer

PASSPHRASE = "test-passphrase-not-secret"


class Counter(Aggregate):
    """A tiny aggregate: a named running total of Decimal increments."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = Decimal("0.00")
        self.notes: list[str] = []

    @event("Incremented")
    def increment(self, amount: Decimal, note: str) -> None:
        self.total += amount
        self.notes.append(note)


class Record(Aggregate):
    """An aggregate whose events carry every transcoded type."""

    @event("Opened")
    def __init__(self, title: str) -> None:
        self.title = title
        self.entries: list[dict[str, Any]] = []

    @event("Noted")
    def note(self, amount: Decimal, day: date, at: datetime, ref: UUID, text: str,
             tags: list[str], extra: dict[str, Any]) -> None:
        self.entries.append({"amount": amount, "day": day, "at": at, "ref": ref, "text": text,
                             "tags": tags, "extra": extra})


# Inspecting the log -----------------------------------------------------------------------


def identities(app: Any) -> list[tuple[int, str, int]]:
    """(position, originator id, version) of every chain row, in position order."""
    return [(r.position, r.originator_id, r.originator_version) for r in app.read_chain(1, app.size())]


def count_events(app: Any) -> int:
    return int(app.recorder.fetch("SELECT COUNT(*) FROM {events}")[0][0])


def count_chain(app: Any) -> int:
    return int(app.recorder.fetch("SELECT COUNT(*) FROM {chain}")[0][0])


def count_checkpoints(app: Any) -> int:
    return int(app.recorder.fetch("SELECT COUNT(*) FROM {checkpoints}")[0][0])


def snapshot_of_tables(app: Any) -> tuple:
    """Everything the ledger wrote, to prove that a refused operation wrote nothing."""
    return (
        count_events(app), count_chain(app), app.head(),
        sorted(tuple(map(_plain, r)) for r in app.recorder.fetch("SELECT key_id, owner FROM {keys}")),
        count_checkpoints(app),
    )


def _plain(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview) else v


def faults_of(report: Any) -> set[tuple[int | None, str]]:
    """The (position, kind) pairs of a verification report."""
    return {(f.position, f.kind) for f in report.faults}


# Tampering (what an attacker with write access to the database can do) --------------------


def chain_row(app: Any, position: int) -> Any:
    (row,) = app.read_chain(position, position)
    return row


def set_state(app: Any, position: int, state: bytes) -> None:
    nid = chain_row(app, position).notification_id
    app.recorder.execute("UPDATE {events} SET state = ? WHERE {nid} = ?", (state, nid))


def flip_payload_byte(app: Any, position: int, old: bytes, new: bytes) -> None:
    """Replace `old` by `new` (same length) in the stored payload at `position`."""
    state = chain_row(app, position).state
    assert state is not None and state.count(old) == 1, state
    set_state(app, position, state.replace(old, new))


def flip_signature_byte(app: Any, position: int) -> None:
    sig = bytearray(chain_row(app, position).signature)
    sig[10] ^= 0x01
    app.recorder.execute("UPDATE {chain} SET signature = ? WHERE position = ?", (bytes(sig), position))


def swap_stored_events(app: Any, pos_a: int, pos_b: int) -> None:
    """Exchange the notification ids of two stored events (their place in the log)."""
    a, b = chain_row(app, pos_a).notification_id, chain_row(app, pos_b).notification_id
    ex = app.recorder.execute
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (-1, a))
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (a, b))
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (b, -1))


def append_forged_row(app: Any, originator_id: str, version: int, topic: str, state: bytes,
                      key_id: str, signature: bytes) -> int:
    """Insert a stored event and a correctly linked chain row at the tail; returns its position."""
    rec = app.recorder
    rec.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, ?, ?, ? FROM {events} WHERE originator_id = "
        "(SELECT e.originator_id FROM {events} e JOIN {chain} c ON c.notification_id = e.{nid} "
        " WHERE c.originator_id = ? LIMIT 1) LIMIT 1",
        (version, topic, state, originator_id),
    )
    nid = int(rec.fetch("SELECT MAX({nid}) FROM {events}")[0][0])
    position, head = app.head()
    link = chain_hash(head, record_hash(originator_id, version, topic, state), signature)
    rec.execute(
        "INSERT INTO {chain} VALUES (?,?,?,?,?,?,?)",
        (position + 1, nid, originator_id, version, key_id, signature, link),
    )
    return position + 1


def record_directly(app: Any, aggregate: Aggregate, signer: Signer) -> None:
    """Write an aggregate's pending events through the recorder, bypassing the application
    (and therefore `signer_for`, which refuses revoked keys)."""
    stored = [app.mapper.to_stored_event(e) for e in aggregate.collect_events()]
    app.recorder.insert_events(stored, signer=signer)
