"""A commit whose answer is lost (PostgreSQL): the transaction committed on the server, but
the connection broke before the answer came back, so the library's retry runs the save
again, which then meets its own events already in the log.

Looked for after the PostgreSQL outage fault test once found an acknowledged write missing
from the position its answer gave."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from ledger.application import init_ledger, open_ledger
from ledger.errors import VersionConflictError
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import DatabaseSource, verify_log
from tests.conftest import PG_ADMIN_DSN, pg_admin, require_postgres
from tests.support import PASSPHRASE, Counter


@pytest.fixture
def pg_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    require_postgres()
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    schema = f"t_{uuid.uuid4().hex}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    app, root = init_ledger(f"{PG_ADMIN_DSN}?schema={schema}", PASSPHRASE)
    try:
        alice = app.enrol_signer("alice", PASSPHRASE, by=root, actor_id="ledger-root",
                                 actor_name="Ledger root key")
        yield app, alice
    finally:
        app.close()
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


def lose_the_next_commit_answer(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The next save's transaction commits, then its connection 'breaks' on the way back."""
    recorder, datastore = app.recorder, app.recorder.datastore
    real_connection, real_insert = datastore.get_connection, recorder._insert_stored_events
    writers: list[Any] = []
    seen: list[str] = []

    def insert(curs: Any, *args: Any, **kwargs: Any) -> Any:
        writers.append(curs.connection)  # this connection is the save's
        seen.append("insert")
        return real_insert(curs, *args, **kwargs)

    @contextmanager
    def breaking(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real_connection(*args, **kwargs) as conn:
            yield conn
        if writers and conn is writers[0] and "lost" not in seen:
            seen.append("lost")
            raise OperationalError("server closed the connection unexpectedly (after COMMIT)")

    monkeypatch.setattr(recorder, "_insert_stored_events", insert)
    monkeypatch.setattr(datastore, "get_connection", breaking)
    return seen


def test_a_save_whose_commit_answer_was_lost_succeeds_once(pg_ledger, monkeypatch) -> None:
    app, alice = pg_ledger
    c = Counter("lost answer")
    c.increment(Decimal("1.00"), "once")
    before = app.size()
    seen = lose_the_next_commit_answer(app, monkeypatch)

    receipts = app.append(c, signer=alice)

    assert seen[:3] == ["insert", "lost", "insert"], "committed, answer lost, tried again"
    assert app.size() == before + 2, "written once"
    rows = app.read_chain(before + 1, before + 2)
    assert [(r.position, r.chain_hash, r.signature) for r in rows] == [
        (r.position, r.chain_hash, r.signature) for r in receipts]
    assert app.repository.get(c.id).total == Decimal("1.00")
    assert verify_log(DatabaseSource(app)).ok


def test_another_writers_events_at_the_same_versions_are_still_a_conflict(pg_ledger, monkeypatch) -> None:
    """Only the save's own records count as its own: a retry that meets someone else's
    events at its versions is the conflict it always was, and writes nothing."""
    app, alice = pg_ledger
    c = Counter("contended")
    app.append(c, signer=alice)
    other = open_ledger(app.backend.url)
    try:
        theirs, mine = other.repository.get(c.id), app.repository.get(c.id)
        theirs.increment(Decimal("1.00"), "theirs")
        mine.increment(Decimal("5.00"), "mine")
        recorder = app.recorder
        real_insert = recorder._insert_stored_events
        dropped: list[int] = []

        def theirs_first(*args: Any, **kwargs: Any) -> Any:
            if not dropped:  # ours loses its connection mid-save; theirs commits meanwhile
                dropped.append(1)
                other.append(theirs, signer=alice)
                raise OperationalError("connection dropped before ours committed")
            return real_insert(*args, **kwargs)

        monkeypatch.setattr(recorder, "_insert_stored_events", theirs_first)
        size = app.size()
        with pytest.raises(VersionConflictError):
            app.append(mine, signer=alice)
        assert dropped == [1]
        assert app.size() == size + 1, "theirs only"
        assert app.repository.get(c.id).total == Decimal("1.00")
    finally:
        other.close()
