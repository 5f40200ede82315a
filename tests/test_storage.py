"""The storage suite: written once, run on SQLite and on PostgreSQL (see conftest.backend_url)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
import rfc8785

from ledger.application import init_ledger, open_ledger
from ledger.errors import (
    AlreadyInitialisedError,
    KeyNotFoundError,
    KeyPassphraseError,
    KeyRevokedError,
    LedgerError,
    MissingSignerError,
    NotAuthorisedToRegisterKeysError,
    VersionConflictError,
)
from ledger.keyring import KEYRING_ID, REGISTERED_TOPIC, STARTED_TOPIC
from ledger.keys import Signer
from ledger.verify import DatabaseSource, verify_log
from tests.support import (
    PASSPHRASE,
    Counter,
    Record,
    count_events,
    identities,
    snapshot_of_tables,
)


def test_init_writes_the_key_ring_signed_by_the_root_key(ledger):
    app, root = ledger
    (row,) = app.read_chain(1, 1)
    assert app.size() == 1
    assert (row.position, row.originator_id, row.originator_version) == (1, str(KEYRING_ID), 1)
    assert row.topic == STARTED_TOPIC
    assert row.key_id == root.key_id
    ring = app.keyring()
    assert ring.root_key_id == root.key_id
    assert app.root_signer(PASSPHRASE).key_id == root.key_id


def test_append_and_read_back(ledger, alice, open_app):
    app, _ = ledger
    c = Counter("build")
    c.increment(Decimal("12.50"), "first")
    c.increment(Decimal("0.05"), "second")
    app.save(c, signer=alice)

    # A fresh application (another process, in effect) sees the same state.
    again = open_app().repository.get(c.id)
    assert (again.name, again.total, again.notes, again.version) == ("build", Decimal("12.55"), ["first", "second"], 3)
    assert identities(app)[-3:] == [(3, str(c.id), 1), (4, str(c.id), 2), (5, str(c.id), 3)]
    assert {r.key_id for r in app.read_chain(3, 5)} == {alice.key_id}
    assert verify_log(DatabaseSource(app)).ok


def counted(app, signer, name: str, steps: int) -> int:
    """A counter saved with `steps` increments in one save; the log's size after it."""
    c = Counter(name)
    for i in range(steps):
        c.increment(Decimal("1.00"), f"step {i}")
    app.save(c, signer=signer)
    return app.size()


def test_read_positions_returns_the_same_rows_as_read_chain(ledger, alice):
    app, _ = ledger
    size = counted(app, alice, "positions", 4)
    wanted = [size, 1, 3, 3, size + 5]  # repeats and a position beyond the head
    rows = app.read_positions(wanted)
    assert [r.position for r in rows] == [1, 3, size]  # in order, once each, missing left out
    assert rows == [app.read_chain(p, p)[0] for p in (1, 3, size)]
    assert app.read_positions([]) == []


def test_read_positions_beyond_one_statement(ledger, alice):
    """More positions than one statement takes (SQLite reads them 500 at a time)."""
    app, _ = ledger
    size = counted(app, alice, "many positions", 1100)
    assert app.read_positions(range(size, 0, -1)) == app.read_chain(1, size)


def test_events_decode_to_equal_objects(ledger, alice, open_app):
    app, _ = ledger
    r = Record("types")
    ref = uuid4()
    at = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    r.note(
        amount=Decimal("1234567890123.45"), day=date(2024, 2, 29), at=at, ref=ref,
        text="Zürich \u00e9\u4e2d\U0001f600 \"quoted\"\n\t\u2028 \x7f",
        tags=["a", "b"], extra={"nested": {"n": -(2**53 - 1), "ok": True, "none": None, "d": Decimal("-0.10")}},
    )
    recordings = app.save(r, signer=alice)
    written = [rec.domain_event for rec in recordings]

    read = list(open_app().events.get(r.id))
    assert read == written
    noted = read[1]
    assert noted.amount == Decimal("1234567890123.45") and str(noted.amount) == "1234567890123.45"
    assert type(noted.day) is date and noted.day == date(2024, 2, 29)
    assert noted.at == at and noted.at.utcoffset() == timedelta(0)  # stored as UTC
    assert isinstance(noted.ref, UUID) and noted.ref == ref
    assert noted.extra["nested"]["d"] == Decimal("-0.10")
    assert noted.text.endswith("\u2028 \x7f")

    # The stored bytes are RFC 8785 canonical JSON, with money as a decimal string.
    (state,) = [s for (s,) in app.recorder.fetch(
        "SELECT e.state FROM {events} e JOIN {chain} c ON c.notification_id = e.{nid} "
        "WHERE c.position = ?", (app.size(),))]
    state = bytes(state)
    assert rfc8785.dumps(json.loads(state)) == state
    assert b'"1234567890123.45"' in state and b"2024-03-01T04:59:59.999999Z" in state


def test_chain_positions_are_dense_even_when_notification_ids_have_gaps(ledger, alice, backend_url):
    app, _ = ledger
    c = Counter("gaps")
    app.save(c, signer=alice)
    stale = app.repository.get(c.id)
    c.increment(Decimal("1.00"), "wins")
    app.save(c, signer=alice)
    stale.increment(Decimal("2.00"), "loses")
    with pytest.raises(VersionConflictError):  # on PostgreSQL this burns a sequence value
        app.save(stale, signer=alice)
    for i in range(3):
        if i == 1 and backend_url.startswith("postgresql"):
            app.recorder.fetch(
                "SELECT setval(pg_get_serial_sequence('{events}', 'notification_id'), "
                "(SELECT MAX(notification_id) FROM {events}) + 100)")
        c.increment(Decimal("1.00"), f"after gap {i}")
        app.save(c, signer=alice)

    rows = app.read_chain(1, app.size())
    assert [r.position for r in rows] == list(range(1, app.size() + 1))
    assert app.size() == 7 == count_events(app)
    nids = [r.notification_id for r in rows]
    assert nids == sorted(set(nids))
    if backend_url.startswith("postgresql"):
        gaps = [b - a for a, b in zip(nids, nids[1:], strict=False) if b - a > 1]
        assert len(gaps) >= 2, nids  # the failed insert and the setval both left gaps
    report = verify_log(DatabaseSource(app))
    assert report.ok, report.faults


@pytest.mark.parametrize("per_save", [1, 100])
def test_one_and_a_hundred_events_per_save(ledger, alice, per_save):
    app, _ = ledger
    before = app.size()
    counters = []
    for n in range(3):
        c = Counter(f"c{n}")
        for i in range(per_save - 1):
            c.increment(Decimal(i) / 100, f"n{i}")
        app.save(c, signer=alice)
        counters.append(c)
    assert app.size() == before + 3 * per_save
    rows = app.read_chain(before + 1, app.size())
    assert [r.position for r in rows] == list(range(before + 1, app.size() + 1))
    # Each save's events are contiguous and in version order.
    for k, c in enumerate(counters):
        block = rows[k * per_save:(k + 1) * per_save]
        assert [(r.originator_id, r.originator_version) for r in block] == [
            (str(c.id), v) for v in range(1, per_save + 1)]
    assert app.repository.get(counters[-1].id).total == sum(Decimal(i) / 100 for i in range(per_save - 1))
    report = verify_log(DatabaseSource(app))
    assert report.ok and report.events == app.size()


def test_several_aggregates_in_one_save(ledger, alice):
    app, _ = ledger
    a, b = Counter("a"), Counter("b")
    b.increment(Decimal("3.00"), "b1")
    app.save(a, b, signer=alice)
    assert [i[1:] for i in identities(app)[-3:]] == [(str(a.id), 1), (str(b.id), 1), (str(b.id), 2)]
    assert verify_log(DatabaseSource(app)).ok


def test_snapshot_and_reload(ledger, alice, open_app):
    app, _ = ledger
    c = Counter("snap")
    for i in range(5):
        c.increment(Decimal("1.10"), f"n{i}")
    app.save(c, signer=alice)
    app.take_snapshot(c.id)
    snapshots = list(app.snapshots.get(c.id))
    assert [s.originator_version for s in snapshots] == [6]

    c.increment(Decimal("0.01"), "after snapshot")
    app.save(c, signer=alice)
    reopened = open_app()
    got = reopened.repository.get(c.id)
    assert (got.version, got.total, got.notes[-1]) == (7, Decimal("5.51"), "after snapshot")
    assert reopened.repository.get(c.id, version=6).total == Decimal("5.50")
    # Snapshots are a cache outside the chain: verification is unaffected.
    assert verify_log(DatabaseSource(reopened)).ok


def test_key_ring_snapshots_do_not_change_the_key_history(ledger):
    app, root = ledger
    kids = [app.enrol_signer(f"p{i}", PASSPHRASE, by=root, actor_id="ledger-root", actor_name=f"P {i}").key_id
            for i in range(3)]
    app.take_snapshot(KEYRING_ID)
    ring = open_ledger(app.backend.url)
    try:
        assert set(kids) <= set(ring.keyring().keys)
    finally:
        ring.close()


def test_version_conflict_is_a_named_error_and_writes_nothing(ledger, alice, open_app):
    app, _ = ledger
    c = Counter("contended")
    app.save(c, signer=alice)
    other = open_app()
    mine, theirs = app.repository.get(c.id), other.repository.get(c.id)
    theirs.increment(Decimal("1.00"), "theirs")
    other.save(theirs, signer=alice)
    before = snapshot_of_tables(app)

    mine.increment(Decimal("5.00"), "mine")
    mine.increment(Decimal("6.00"), "mine too")
    with pytest.raises(VersionConflictError, match="reload and try again"):
        app.save(mine, signer=alice)
    assert snapshot_of_tables(app) == before

    # The caller retries: reload, re-apply, save.
    retry = app.repository.get(c.id)
    retry.increment(Decimal("5.00"), "mine")
    app.save(retry, signer=alice)
    assert app.repository.get(c.id).total == Decimal("6.00")
    assert verify_log(DatabaseSource(app)).ok


def test_unsigned_save_is_refused_and_writes_nothing(ledger):
    app, _ = ledger
    before = snapshot_of_tables(app)
    c = Counter("unsigned")
    with pytest.raises(MissingSignerError):
        app.save(c)
    with pytest.raises(MissingSignerError):
        app.save(c, signer="not a signer")  # type: ignore[arg-type]
    stored = [app.mapper.to_stored_event(e) for e in c.collect_events()]
    with pytest.raises(MissingSignerError):
        app.recorder.insert_events(stored)  # the recorder itself refuses, too
    assert snapshot_of_tables(app) == before


def test_revoked_key_can_no_longer_be_used_to_sign(ledger, alice):
    app, root = ledger
    bob = app.enrol_signer("bob", PASSPHRASE, by=root, actor_id="ledger-root", actor_name="Bob")
    assert app.signer_for(bob.key_id, PASSPHRASE).key_id == bob.key_id
    c = Counter("by bob")
    app.save(c, signer=bob)
    app.revoke_key(bob.key_id, by=root, actor_id="ledger-root", actor_name="Root", reason="left the project")

    with pytest.raises(KeyRevokedError):
        app.signer_for(bob.key_id, PASSPHRASE)
    with pytest.raises(KeyRevokedError):  # nor may it be revoked twice
        app.revoke_key(bob.key_id, by=root, actor_id="ledger-root", actor_name="Root", reason="again")
    with pytest.raises(KeyNotFoundError):
        app.signer_for(Signer.generate().key_id, PASSPHRASE)
    with pytest.raises(KeyPassphraseError):
        app.signer_for(alice.key_id, "wrong passphrase")
    with pytest.raises(NotAuthorisedToRegisterKeysError):  # alice may sign, not manage keys
        app.register_key(Signer.generate().public_bytes, "eve", by=alice, actor_id="alice",
                         actor_name="Alice", reason="")
    # The revocation is in the log: events before it stay valid.
    assert [r.topic for r in app.read_chain(1, 3)][1:] == [REGISTERED_TOPIC, REGISTERED_TOPIC]
    assert verify_log(DatabaseSource(app)).ok


def test_init_twice_is_refused_and_writes_nothing(ledger, backend_url):
    app, _ = ledger
    before = snapshot_of_tables(app)
    with pytest.raises(AlreadyInitialisedError):
        init_ledger(backend_url, PASSPHRASE)
    assert snapshot_of_tables(app) == before


def test_verify_is_clean_and_counts_every_event(ledger, alice):
    app, root = ledger
    for n in range(4):
        c = Counter(f"v{n}")
        c.increment(Decimal("1.00"), "x")
        app.save(c, signer=alice if n % 2 else root)
    report = verify_log(DatabaseSource(app), pinned_root=root.key_id)
    assert report.ok and report.faults == []
    assert report.events == app.size() == 10
    assert report.head == app.head()[1]
    assert report.root_key_id == root.key_id and report.origin == app.keyring().origin


def test_timestamps_are_utc(ledger, alice):
    app, _ = ledger
    c = Counter("t")
    app.save(c, signer=alice)
    (ev,) = list(app.events.get(c.id))
    assert ev.timestamp.utcoffset() == timedelta(0)
    assert abs(ev.timestamp - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)  # PostgreSQL: a sequence
def test_rows_not_stored_at_the_next_ids_are_refused_and_nothing_is_written(ledger, alice):
    """SQLite: a save's positions are its row ids, taken as the largest row id + 1 onward
    (one `executemany`). Where SQLite would give other ids -- past the largest row id it can
    hold, it picks free ids at random -- the save is refused and rolled back."""
    app, _ = ledger
    app.recorder.execute(  # an unchained row at the largest row id SQLite can hold
        "INSERT INTO {events} (rowid, originator_id, originator_version, topic, state) "
        "VALUES (9223372036854775807, 'filler', 1, 'filler', x'00')")
    before = snapshot_of_tables(app)
    c = Counter("past the last id")
    c.increment(Decimal("1.00"), "one")
    with pytest.raises(LedgerError, match="were not stored at ids"):
        app.save(c, signer=alice)
    assert snapshot_of_tables(app) == before
