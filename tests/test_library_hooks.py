"""The extension points of `eventsourcing` (9.5.6, pinned) the ledger is built on: one test
per hook, so that an upgrade that changes one fails here, by name, rather than somewhere
in the chain. Also the receipts the hooks fill (ledger/receipts.py)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteFactory

from ledger.application import LedgerApplication
from ledger.recorders import (
    LedgerPostgresFactory,
    LedgerSQLiteFactory,
    SealedSnapshots,
    SignedPostgresApplicationRecorder,
    SignedSQLiteApplicationRecorder,
)
from tests.support import Counter, snapshot_of_tables


class Refused(Exception):
    """Raised by a test's hook to see what a failure there leaves behind."""


def _counter(increments: int = 2) -> Counter:
    c = Counter("hooks")
    for i in range(increments):
        c.increment(Decimal("1.00"), f"n{i}")
    return c


def _spy(monkeypatch: pytest.MonkeyPatch, app: LedgerApplication, name: str,
         before: Any = None, after: Any = None) -> list[dict[str, Any]]:
    """Wrap the recorder's method `name`: the kwargs of each call are kept, `before` and
    `after` (given the kwargs) run around the real method."""
    calls: list[dict[str, Any]] = []
    real = getattr(app.recorder, name)

    def wrapped(cursor: Any, stored_events: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if before is not None:
            before(kwargs)
        out = real(cursor, stored_events, **kwargs)
        if after is not None:
            after(kwargs)
        return out

    monkeypatch.setattr(app.recorder, name, wrapped)
    return calls


def _refuse(_: Any) -> None:
    raise Refused


# save(**kwargs) -> the recorder's _insert_events ---------------------------------------


def test_the_kwargs_given_to_save_arrive_in_the_insert_hook(ledger, alice, monkeypatch) -> None:
    app, _ = ledger
    calls = _spy(monkeypatch, app, "_insert_events")
    receipts: list = []
    app.save(_counter(), signer=alice, receipts=receipts, marker="passed down")
    (kwargs,) = calls
    assert kwargs["signer"] is alice
    assert kwargs["receipts"] is receipts
    assert kwargs["marker"] == "passed down"
    assert callable(kwargs["key_check"])
    assert "signed" in kwargs  # added by the recorder's insert_events before the library's


# _insert_events runs inside the library's write transaction -----------------------------


def test_a_failure_in_the_insert_hook_rolls_the_whole_save_back(ledger, alice, monkeypatch) -> None:
    """After the hook's own work (SQLite: the rows are inserted by then), a failure leaves
    nothing: the hook runs inside the library's transaction."""
    app, _ = ledger
    app.save(Counter("first"), signer=alice)
    before = snapshot_of_tables(app)
    _spy(monkeypatch, app, "_insert_events", after=_refuse)
    with pytest.raises(Refused):
        app.save(_counter(), signer=alice)
    assert snapshot_of_tables(app) == before


@pytest.mark.parametrize("backend_url", ["postgresql"], indirect=True)
def test_postgres_commits_what_its_later_hooks_wrote_when_they_raise(ledger, alice, monkeypatch) -> None:
    """The library (9.5.6) keeps an Exception raised in `_insert_stored_events` or
    `_fetch_ids_after_insert_events` and re-raises it after its transaction has COMMITTED.
    So the ledger's refusals there (the key check) leave as a BaseException (`_Refusal`),
    which rolls back: see the next test. Should an upgrade roll back Exceptions too, this
    fails, and `_Refusal` is no longer needed."""
    app, _ = ledger
    events = snapshot_of_tables(app)[0]
    _spy(monkeypatch, app, "_fetch_ids_after_insert_events", after=_refuse)
    with pytest.raises(Refused):
        app.save(_counter(1), signer=alice)
    assert snapshot_of_tables(app)[0] == events + 2  # committed, though the hook raised


@pytest.mark.parametrize("backend_url", ["postgresql"], indirect=True)
def test_postgres_refusal_after_the_insert_rolls_back(ledger, alice, monkeypatch) -> None:
    """A key check that refuses, inside `_fetch_ids_after_insert_events`: nothing is
    written, and the refusal itself reaches the caller."""
    from ledger.errors import KeyRevokedError

    app, _ = ledger
    app.save(Counter("first"), signer=alice)
    before = snapshot_of_tables(app)

    def revoked(kwargs: dict[str, Any]) -> None:
        def check(version: Any) -> None:
            raise KeyRevokedError("refused by the test")
        kwargs["key_check"] = check

    _spy(monkeypatch, app, "_fetch_ids_after_insert_events", before=revoked)
    receipts: list = []
    with pytest.raises(KeyRevokedError, match="refused by the test"):
        app.save(_counter(), signer=alice, receipts=receipts)
    assert snapshot_of_tables(app) == before
    assert receipts == []


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_sqlite_insert_hook_holds_the_write_lock_before_the_key_check(ledger, alice, monkeypatch) -> None:
    """The library begins with a plain (deferred) BEGIN; the hook's first statement is a
    write, so the write lock is held by the time the head is read and the key checked."""
    app, _ = ledger
    path = app.backend.sqlite_path
    seen: list[str] = []

    def probe(kwargs: dict[str, Any]) -> None:
        check = kwargs["key_check"]

        def locked_check(version: Any) -> None:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                seen.append("not locked")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError as e:
                seen.append(str(e))
            finally:
                other.close()
            check(version)

        kwargs["key_check"] = locked_check

    _spy(monkeypatch, app, "_insert_events", before=probe)
    app.save(_counter(), signer=alice)
    assert seen == ["database is locked"]


def test_the_library_transactions_the_hooks_rely_on_are_unchanged() -> None:
    """SQLite: the insert runs `_insert_events` in one write transaction; PostgreSQL: its
    insert keeps the retry decorator, and its lock is the EXCLUSIVE table lock."""
    import inspect

    src = inspect.getsource(SQLiteAggregateRecorder.insert_events)
    assert "self.datastore.transaction(commit=True)" in src and "self._insert_events(c" in src
    assert SQLiteApplicationRecorder._insert_events is not SQLiteAggregateRecorder._insert_events
    wrapped = PostgresApplicationRecorder.insert_events
    assert hasattr(wrapped, "__wrapped__"), "the library's PostgreSQL insert lost its @retry"
    pg_src = inspect.getsource(wrapped.__wrapped__)
    for hook in ("self._insert_events(", "self._insert_stored_events(", "self._fetch_ids_after_insert_events("):
        assert hook in pg_src, hook
    assert "except Exception" in pg_src  # what `_Refusal` (a BaseException) passes through
    assert callable(PostgresApplicationRecorder._notify_channel)
    assert SignedPostgresApplicationRecorder.insert_events is not PostgresApplicationRecorder.insert_events
    assert issubclass(SignedSQLiteApplicationRecorder, SQLiteApplicationRecorder)


# PostgreSQL: the library's retry, and receipts of the committing attempt only -----------


@pytest.mark.parametrize("backend_url", ["postgresql"], indirect=True)
def test_postgres_insert_keeps_the_library_retry_and_reports_the_committing_attempt(
        ledger, alice, monkeypatch) -> None:
    app, _ = ledger
    assert any("EXCLUSIVE" in repr(s) for s in app.recorder.lock_table_statements)
    failures = [OperationalError("connection dropped (test)")]

    def drop_once(kwargs: dict[str, Any]) -> None:
        if failures:
            raise failures.pop()

    # The first attempt fills its receipts, then fails; the retry's are the ones reported.
    calls = _spy(monkeypatch, app, "_insert_events", after=drop_once)
    receipts = app.append(_counter(), signer=alice)
    assert len(calls) == 2
    assert len(receipts) == 3
    assert_receipts_match_the_log(app, receipts)
    assert app.size() == receipts[-1].position


# PERSISTENCE_MODULE accepts the ledger's Factory subclass -------------------------------


def test_persistence_module_accepts_the_ledgers_factory(ledger) -> None:
    app, _ = ledger
    expected = LedgerSQLiteFactory if app.backend.kind == "sqlite" else LedgerPostgresFactory
    assert type(app.factory) is expected
    assert issubclass(LedgerSQLiteFactory, SQLiteFactory) and issubclass(LedgerPostgresFactory, PostgresFactory)
    assert isinstance(app.snapshots.recorder, SealedSnapshots)
    recorder_class = SignedSQLiteApplicationRecorder if app.backend.kind == "sqlite" else \
        SignedPostgresApplicationRecorder
    assert type(app.recorder) is recorder_class


# Receipts ------------------------------------------------------------------------------


def assert_receipts_match_the_log(app: LedgerApplication, receipts: list) -> None:
    rows = app.read_log(receipts[0].position, receipts[-1].position)
    assert [r.position for r in rows] == [r.position for r in receipts]
    for receipt, row in zip(receipts, rows, strict=True):
        assert (receipt.originator_id, receipt.originator_version, receipt.topic) == (
            row.originator_id, row.originator_version, row.topic)
        assert receipt.signature == row.signature
        assert receipt.chain_hash == row.chain_hash


@pytest.mark.parametrize("increments", [0, 1, 99])
def test_receipts_match_the_rows_read_log_returns(ledger, alice, increments) -> None:
    app, _ = ledger
    size = app.size()
    receipts = app.append(_counter(increments), signer=alice)
    assert [r.position for r in receipts] == list(range(size + 1, size + 2 + increments))
    assert_receipts_match_the_log(app, receipts)
    assert receipts[-1].chain_hash == app.head()[1]


def test_receipts_of_a_save_of_several_aggregates(ledger, alice) -> None:
    app, _ = ledger
    a, b = _counter(1), _counter(2)
    receipts = app.append(a, b, signer=alice)
    assert [(r.originator_id, r.originator_version) for r in receipts] == [
        (str(a.id), 1), (str(a.id), 2), (str(b.id), 1), (str(b.id), 2), (str(b.id), 3)]
    assert_receipts_match_the_log(app, receipts)


def test_a_refused_save_fills_no_receipts(ledger, alice) -> None:
    from ledger.errors import VersionConflictError

    app, _ = ledger
    c = _counter(1)
    app.save(c, signer=alice)
    stale = app.repository.get(c.id)
    c.increment(Decimal("1.00"), "mine")
    app.save(c, signer=alice)
    stale.increment(Decimal("2.00"), "theirs")
    receipts: list = []
    with pytest.raises(VersionConflictError):
        app.save(stale, signer=alice, receipts=receipts)
    assert receipts == []
