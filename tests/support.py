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


class Act(Aggregate):
    """An aggregate whose events name their actor, as every domain event does."""

    @event("Done")
    def __init__(self, what: str, actor_id: str, actor_name: str) -> None:
        self.what = what

    @event("Redone")
    def redo(self, what: str, actor_id: str, actor_name: str) -> None:
        self.what = what


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


def embedded(app: Any) -> bool:
    """True where the chain columns live in the event's own row (SQLite; see ledger.recorders)."""
    return bool(app.recorder.chain_embedded)


def set_chain_column(app: Any, position: int, column: str, value: Any) -> None:
    """Overwrite one chain column (key_id, signature or chain_hash) at `position`."""
    where = "{events} SET %s = ? WHERE {nid} = ?" if embedded(app) else "{chain} SET %s = ? WHERE position = ?"
    app.recorder.execute("UPDATE " + where % column, (value, position))


def flip_signature_byte(app: Any, position: int) -> None:
    sig = bytearray(chain_row(app, position).signature)
    sig[10] ^= 0x01
    set_chain_column(app, position, "signature", bytes(sig))


def unchain(app: Any, position: int) -> None:
    """Remove the chain entry at `position`, leaving its stored event in place."""
    if embedded(app):
        app.recorder.execute(
            "UPDATE {events} SET key_id = NULL, signature = NULL, chain_hash = NULL WHERE {nid} = ?", (position,))
    else:
        app.recorder.execute("DELETE FROM {chain} WHERE position = ?", (position,))


def delete_record(app: Any, position: int) -> None:
    """Remove the stored event at `position` and its chain entry."""
    nid = chain_row(app, position).notification_id
    if not embedded(app):
        app.recorder.execute("DELETE FROM {chain} WHERE position = ?", (position,))
    app.recorder.execute("DELETE FROM {events} WHERE {nid} = ?", (nid,))


def swap_positions(app: Any, pos_a: int, pos_b: int) -> None:
    """Exchange the positions of two chain entries (with their stored events on SQLite,
    where the position is the event's row id)."""
    sql = "UPDATE {events} SET {nid} = ? WHERE {nid} = ?" if embedded(app) else \
        "UPDATE {chain} SET position = ? WHERE position = ?"
    ex = app.recorder.execute
    ex(sql, (-pos_a, pos_a))
    ex(sql, (pos_a, pos_b))
    ex(sql, (pos_b, -pos_a))


def swap_stored_events(app: Any, pos_a: int, pos_b: int) -> None:
    """Exchange the notification ids of two stored events (their place in the log)."""
    a, b = chain_row(app, pos_a).notification_id, chain_row(app, pos_b).notification_id
    ex = app.recorder.execute
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (-1, a))
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (a, b))
    ex("UPDATE {events} SET {nid} = ? WHERE {nid} = ?", (b, -1))


def append_forged_row(app: Any, originator_id: str, version: int, topic: str, state: bytes,
                      key_id: str, signature: bytes) -> int:
    """Insert a stored event and a correctly linked chain entry at the tail; returns its position."""
    rec = app.recorder
    position, head = app.head()
    link = chain_hash(head, record_hash(originator_id, version, topic, state), signature)
    stored_id = ("SELECT e.originator_id FROM {events} e JOIN {chain} c ON c.notification_id = e.{nid} "
                 "WHERE c.originator_id = ? LIMIT 1")
    if embedded(app):
        (stored,) = [r[0] for r in rec.fetch("SELECT originator_id FROM {events}") if str(_uuid(r[0])) == originator_id][:1]
        rec.execute("INSERT INTO {events} VALUES (?,?,?,?,?,?,?)",
                    (stored, version, topic, state, key_id, signature, link))
        return int(rec.fetch("SELECT MAX({nid}) FROM {events}")[0][0])
    rec.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        f"SELECT originator_id, ?, ?, ? FROM {{events}} WHERE originator_id = ({stored_id}) LIMIT 1",
        (version, topic, state, originator_id),
    )
    nid = int(rec.fetch("SELECT MAX({nid}) FROM {events}")[0][0])
    rec.execute(
        "INSERT INTO {chain} VALUES (?,?,?,?,?,?,?)",
        (position + 1, nid, originator_id, version, key_id, signature, link),
    )
    return position + 1


def resign(app: Any, position: int, signer: Signer, state: bytes | None = None) -> None:
    """The insider holding the server's keys: replace the payload at `position` (when
    `state` is given), sign it with `signer`, and re-link every later chain position, so
    that no signature or chain link is left broken for `verify` to find."""
    previous = chain_row(app, position - 1).chain_hash if position > 1 else bytes(32)
    for r in app.read_chain(position, app.size()):
        new_state = state if (r.position == position and state is not None) else r.state
        h = record_hash(r.event_originator_id, r.event_originator_version, r.topic, new_state)
        if r.position == position:
            if state is not None:
                set_state(app, position, state)
            set_chain_column(app, position, "key_id", signer.key_id)
            set_chain_column(app, position, "signature", signer.sign(h))
        link = chain_hash(previous, h, chain_row(app, r.position).signature)
        set_chain_column(app, r.position, "chain_hash", link)
        previous = link


def _uuid(value: Any) -> Any:
    return value if isinstance(value, UUID) else UUID(str(value))


def record_directly(app: Any, aggregate: Aggregate, signer: Signer) -> None:
    """Write an aggregate's pending events through the recorder, bypassing the application
    (and therefore `signer_for`, which refuses revoked keys)."""
    stored = [app.mapper.to_stored_event(e) for e in aggregate.collect_events()]
    app.recorder.insert_events(stored, signer=signer)
