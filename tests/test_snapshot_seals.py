"""No snapshot is used on trust (issue 16, item 2), on SQLite and on PostgreSQL.

Each stored snapshot carries a seal (ledger/snapshots.py): the root key's signature over
the snapshot's originator id and version, the chain position and chain hash of the event
at that version, and the SHA-256 of its stored topic and state. An insider who edits,
re-seals with another key, moves or unseals a snapshot does not change what the app
serves: the snapshot is dropped (the aggregate is folded from its events), the drop is
recorded in `app.integrity_faults`, and `check_snapshots` reports `snapshot-mismatch` at
that originator and version. A clean ledger's snapshots are used, and check clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import reduce
from typing import Any
from uuid import UUID

import pytest

from domain.directory import DIRECTORY_ID
from domain.errors import NotAuthorisedError
from domain.project import Project, project_id
from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.keys import PASSPHRASE_ENV, Signer
from ledger.snapshots import SEALS_TABLE, check_snapshots, make_seal
from tests.domain.helpers import CODE, FAST_HASH, PW, World, enrol_cast
from tests.support import embedded

OTHER = "IT-2026-015"


class Frequent(PMOApplication):
    """Snapshots a project every 3 events (the same ledger: the name is the ledger's)."""

    snapshotting_intervals = {**PMOApplication.snapshotting_intervals, Project: 3}


@pytest.fixture
def world(backend_url: str, passphrase: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The cast, and project IT-2026-014 baselined with G0 and G1 passed."""
    monkeypatch.setattr(PMOApplication, "password_method", FAST_HASH)
    app, root = init_ledger(backend_url, PW, app_class=PMOApplication)
    try:
        enrol_cast(app, root, passphrase=PW)
        w = World(app, backend_url)
        w.locked()
        yield w
    finally:
        app.close()


@pytest.fixture
def fresh(world: World) -> Iterator[Callable[..., PMOApplication]]:
    """Opens the ledger again (another process, in effect); closed at teardown."""
    apps: list[PMOApplication] = []

    def _open(app_class: type[PMOApplication] = PMOApplication) -> PMOApplication:
        app = open_ledger(world.url, app_class=app_class)
        apps.append(app)
        return app

    yield _open
    for app in apps:
        app.close()


# Helpers: what an insider with write access to the database does ---------------------------


def snapshots_table(app: Any) -> str:
    return getattr(app.recorder, "schema_prefix", "") + app.snapshots.recorder.events_table_name


def seals_table(app: Any) -> str:
    return getattr(app.recorder, "schema_prefix", "") + SEALS_TABLE


def stored_id(app: Any, oid: UUID) -> Any:
    """An originator id as the snapshots table stores it (hex text on SQLite, a uuid on PostgreSQL)."""
    return oid.hex if embedded(app) else oid


def stored_snapshot(app: Any, oid: UUID, version: int) -> tuple[str, bytes]:
    ((topic, state),) = app.recorder.fetch(
        f"SELECT topic, state FROM {snapshots_table(app)} WHERE originator_id = ? AND originator_version = ?",
        (stored_id(app, oid), version))
    return topic, bytes(state)


def forge(app: Any, oid: UUID, version: int, old: bytes, new: bytes) -> bytes:
    """Replace `old` by `new` in the stored state of the snapshot (oid, version)."""
    _, state = stored_snapshot(app, oid, version)
    assert old in state, state
    forged = state.replace(old, new)
    app.recorder.execute(
        f"UPDATE {snapshots_table(app)} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (forged, stored_id(app, oid), version))
    return forged


def snap(app: PMOApplication, oid: UUID) -> int:
    """Take a (sealed) snapshot of `oid` as it stands; its version."""
    app.take_snapshot(oid)
    (latest,) = app.snapshots.get(oid, desc=True, limit=1)
    return latest.originator_version


def position_of(app: Any, oid: UUID, version: int) -> int:
    (pos,) = [r.position for r in app.read_chain(1, app.size())
              if (r.originator_id, r.originator_version) == (str(oid), version)]
    return pos


def count_snapshot_loads(app: Any) -> list[int]:
    """Snapshots handed to the loaders from now on (one entry per read of the snapshot store)."""
    recorder = app.snapshots.recorder
    select, loads = recorder.select_events, []

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        loads.append(len(found))
        return found

    recorder.select_events = counting
    return loads


def mismatches(faults: Any) -> set[tuple[str, str | None, int | None, int | None]]:
    return {(f.kind, f.originator_id, f.version, f.position) for f in faults}


def replayed(app: Any, oid: UUID) -> Any:
    return reduce(lambda agg, e: e.mutate(agg), app.events.get(oid), None)


def approved_expenditure(world: World, amount: str) -> str:
    e = world.expenditure(amount)
    world.app.approve_expenditure(world.fiscal, CODE, e)
    return e


def forged_amount(world: World) -> tuple[str, UUID, int]:
    """An approved 1,234.56 expenditure whose project snapshot the insider edits to 9,234.56:
    (expenditure, project id, snapshot version)."""
    e = approved_expenditure(world, "1234.56")
    pid = project_id(CODE)
    v = snap(world.app, pid)
    forge(world.app, pid, v, b'"1234.56"', b'"9234.56"')
    return e, pid, v


# The forgeries -----------------------------------------------------------------------------


def test_a_forged_project_snapshot_is_not_used_and_is_reported(world, fresh):
    app = world.app
    e, pid, v = forged_amount(world)

    other = fresh()
    loads = count_snapshot_loads(other)
    assert other.project(CODE).expenditures[e]["amount"] == Decimal("1234.56")
    assert loads and sum(loads) == 0  # asked, and given nothing: folded from the events
    expected = {("snapshot-mismatch", str(pid), v, position_of(app, pid, v))}
    assert mismatches(other.integrity_faults) == expected
    assert "state" in list(other.integrity_faults)[0].detail
    assert mismatches(check_snapshots(other)) == expected


def test_a_forged_directory_snapshot_granting_a_role_is_refused(world, fresh):
    app = world.app
    e = world.expenditure("500.00")
    v = snap(app, DIRECTORY_ID)
    forged = forge(app, DIRECTORY_ID, v, b'"role":"auditor"', b'"role":"fiscal"')
    assert forged.count(b'"role":"fiscal"') == 3  # fiscal, fiscal2 and now the auditor

    other = fresh()
    auditor = other.actor("auditor", PW)
    size = other.size()
    with pytest.raises(NotAuthorisedError):
        other.approve_expenditure(auditor, CODE, e)
    assert other.size() == size
    assert other.project(CODE).expenditures[e]["status"] != "approved"
    expected = {("snapshot-mismatch", str(DIRECTORY_ID), v, position_of(app, DIRECTORY_ID, v))}
    assert mismatches(other.integrity_faults) == expected
    assert mismatches(check_snapshots(other)) == expected


def test_a_forgery_resealed_with_another_key_is_refused(world, fresh):
    app = world.app
    e, pid, v = forged_amount(world)
    # The insider seals the forgery correctly in every field, but with a key of their own
    # (posing as the root key by its id): they do not hold the root key.
    topic, state = stored_snapshot(app, pid, v)
    row = app.read_chain(position_of(app, pid, v), position_of(app, pid, v))[0]
    insider = make_seal(Signer.generate("insider"), originator_id=str(pid), version=v,
                        position=row.position, chain_hash=row.chain_hash, topic=topic, state=state)
    app.recorder.execute(
        f"UPDATE {seals_table(app)} SET state_sha256 = ?, signature = ? "
        "WHERE originator_id = ? AND originator_version = ?",
        (insider.state_sha256, insider.signature, str(pid), v))

    other = fresh()
    assert other.project(CODE).expenditures[e]["amount"] == Decimal("1234.56")
    expected = {("snapshot-mismatch", str(pid), v, row.position)}
    assert mismatches(other.integrity_faults) == expected
    assert "signature" in list(other.integrity_faults)[0].detail
    assert mismatches(check_snapshots(other)) == expected


def test_a_snapshot_moved_to_another_version_or_originator_is_refused(world, fresh):
    app = world.app
    pid, qid = project_id(CODE), project_id(OTHER)
    v = snap(app, pid)
    for i in range(2):
        app.raise_risk(world.pm, CODE, title=f"Risk {i}", probability=1, impact=1, owner="o", mitigation="m")
    world.charter(OTHER)
    assert app.project(OTHER).version < v
    # Moved to a later version of its own project, seal and all ...
    for table, oid in ((snapshots_table(app), stored_id(app, pid)), (seals_table(app), str(pid))):
        app.recorder.execute(f"UPDATE {table} SET originator_version = ? WHERE originator_id = ? "
                             "AND originator_version = ?", (v + 2, oid, v))
    # ... and copied, seal and all, to another project (beyond its last version).
    app.recorder.execute(
        f"INSERT INTO {snapshots_table(app)} (originator_id, originator_version, topic, state) "
        f"SELECT ?, originator_version, topic, state FROM {snapshots_table(app)} "
        "WHERE originator_id = ? AND originator_version = ?", (stored_id(app, qid), stored_id(app, pid), v + 2))
    app.recorder.execute(
        f"INSERT INTO {seals_table(app)} (originator_id, originator_version, position, chain_hash, "
        f"state_sha256, key_id, signature) SELECT ?, originator_version, position, chain_hash, "
        f"state_sha256, key_id, signature FROM {seals_table(app)} WHERE originator_id = ? "
        "AND originator_version = ?", (str(qid), str(pid), v + 2))

    other = fresh()
    loads = count_snapshot_loads(other)
    assert other.project(CODE) == replayed(other, pid)
    moved = other.project(OTHER)
    assert moved == replayed(other, qid) and moved.code == OTHER
    assert sum(loads) == 0
    expected = {("snapshot-mismatch", str(pid), v + 2, position_of(app, pid, v + 2)),
                ("snapshot-mismatch", str(qid), v + 2, None)}
    assert mismatches(other.integrity_faults) == expected
    assert mismatches(check_snapshots(other)) == expected


def test_an_unsealed_snapshot_is_not_used(world, fresh):
    app = world.app
    pid = project_id(CODE)
    v = snap(app, pid)
    app.recorder.execute(f"DELETE FROM {seals_table(app)} WHERE originator_id = ?", (str(pid),))

    other = fresh()
    loads = count_snapshot_loads(other)
    assert other.project(CODE) == replayed(other, pid)
    assert loads and sum(loads) == 0
    (fault,) = other.integrity_faults
    assert (fault.kind, fault.originator_id, fault.version, fault.detail) == (
        "snapshot-mismatch", str(pid), v, "no seal")
    (checked,) = check_snapshots(other)
    assert (checked.originator_id, checked.version, checked.detail) == (str(pid), v, "no seal")


def test_a_snapshot_sealed_by_the_root_key_but_not_what_the_events_say_is_found(world, fresh):
    """Whoever holds the root key (a faulty server, or its passphrase in the wrong hands)
    can seal a wrong state: loading trusts the seal, so `check_snapshots` re-derives every
    snapshot from the events."""
    app = world.app
    e, pid, v = forged_amount(world)
    topic, state = stored_snapshot(app, pid, v)
    pos = position_of(app, pid, v)
    resealed = make_seal(app.root_signer(PW), originator_id=str(pid), version=v, position=pos,
                         chain_hash=app.read_chain(pos, pos)[0].chain_hash, topic=topic, state=state)
    app.recorder.execute(
        f"UPDATE {seals_table(app)} SET state_sha256 = ?, signature = ? "
        "WHERE originator_id = ? AND originator_version = ?",
        (resealed.state_sha256, resealed.signature, str(pid), v))

    other = fresh()
    assert other.project(CODE).expenditures[e]["amount"] == Decimal("9234.56")  # the seal holds
    (fault,) = check_snapshots(other)
    assert (fault.kind, fault.originator_id, fault.version, fault.position) == ("snapshot-mismatch", str(pid), v, pos)
    assert "replay" in fault.detail


# A clean ledger ----------------------------------------------------------------------------


def test_a_clean_ledger_uses_its_snapshots_and_checks_clean(world, fresh):
    app = world.app
    approved_expenditure(world, "1234.56")
    pid = project_id(CODE)
    snap(app, DIRECTORY_ID)
    snap(app, pid)
    writer = fresh(Frequent)  # snapshots taken by the interval, sealed by the root key
    for i in range(4):
        writer.raise_risk(writer.actor("pm", PW), CODE, title=f"Risk {i}", probability=1, impact=1,
                          owner="o", mitigation="m")
    versions = [s.originator_version for s in app.snapshots.get(pid)]
    assert len(versions) >= 2, versions

    other = fresh()
    loads = count_snapshot_loads(other)
    assert other.project(CODE) == replayed(other, pid)
    assert other.directory() == replayed(other, DIRECTORY_ID)
    assert sum(loads) >= 2  # the project's and the directory's snapshots were used
    assert other.project(CODE, version=versions[0]) == reduce(
        lambda agg, ev: ev.mutate(agg), other.events.get(pid, lte=versions[0]), None)
    assert list(other.integrity_faults) == []
    seen: list[tuple[int, int]] = []
    assert check_snapshots(other, progress=lambda done, total: seen.append((done, total))) == []
    assert seen and seen[-1][0] == seen[-1][1]


def test_a_process_without_the_root_key_takes_no_snapshots(world, fresh, monkeypatch):
    pid = project_id(CODE)
    monkeypatch.delenv(PASSPHRASE_ENV)
    keyless = fresh(Frequent)
    for i in range(4):
        keyless.raise_risk(keyless.actor("pm", PW), CODE, title=f"Risk {i}", probability=1, impact=1,
                           owner="o", mitigation="m")
    assert list(keyless.snapshots.get(pid)) == []
    assert keyless.recorder.fetch(f"SELECT COUNT(*) FROM {snapshots_table(keyless)}")[0][0] == 0
    assert keyless.project(CODE) == replayed(keyless, pid)

    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    keyed = fresh(Frequent)
    for i in range(3):
        keyed.raise_risk(keyed.actor("pm", PW), CODE, title=f"Risk {i}", probability=1, impact=1,
                         owner="o", mitigation="m")
    assert len(list(keyed.snapshots.get(pid))) == 1
    n_snapshots = keyed.recorder.fetch(f"SELECT COUNT(*) FROM {snapshots_table(keyed)}")[0][0]
    n_seals = keyed.recorder.fetch(f"SELECT COUNT(*) FROM {seals_table(keyed)}")[0][0]
    assert n_snapshots == n_seals == 1
    assert check_snapshots(keyed) == []


def test_a_ledger_made_before_seals_gets_the_tables_and_its_unsealed_snapshots_go(world, fresh):
    """Opening a ledger made before seals makes the seals table and removes the snapshots,
    which are unsealed derived data that could never be used (the events are the record):
    after the upgrade, verification does not report every one of them for ever."""
    app = world.app
    pid = project_id(CODE)
    snap(app, pid)
    app.recorder.execute(f"DROP TABLE {seals_table(app)}")

    other = fresh()  # the seals table is made again, empty, and the snapshots go
    assert app.recorder.fetch(f"SELECT COUNT(*) FROM {snapshots_table(app)}")[0][0] == 0
    assert other.project(CODE) == replayed(other, pid)
    assert list(other.integrity_faults) == [] and check_snapshots(other) == []
    # Without a snapshots table at all, both are made when the ledger is opened.
    app.recorder.execute(f"DROP TABLE {seals_table(app)}")
    app.recorder.execute(f"DROP TABLE {snapshots_table(app)}")
    again = fresh()
    assert snap(again, pid) == app.project(CODE).version
    assert check_snapshots(again) == []


def test_a_sealed_snapshot_of_an_earlier_class_version_checks_clean_once_upcast(world, fresh):
    """A Project snapshot taken before class_version 2 (no `conditions_met`, no
    `class_version`; upcast through 2 to 3), sealed then: not the bytes a replay encodes today, but the same
    state once restored as loading restores it."""
    app = world.app
    pid = project_id(CODE)
    v = snap(app, pid)
    topic, state = stored_snapshot(app, pid, v)
    assert state.count(b'"conditions_met":[],') == 5 and b'"class_version":3,' in state
    old = state.replace(b'"conditions_met":[],', b"").replace(b'"class_version":3,', b"")
    pos = position_of(app, pid, v)
    seal = make_seal(app.root_signer(PW), originator_id=str(pid), version=v, position=pos,
                     chain_hash=app.read_chain(pos, pos)[0].chain_hash, topic=topic, state=old)
    app.recorder.execute(
        f"UPDATE {snapshots_table(app)} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (old, stored_id(app, pid), v))
    app.recorder.execute(
        f"UPDATE {seals_table(app)} SET state_sha256 = ?, signature = ? WHERE originator_id = ? "
        "AND originator_version = ?", (seal.state_sha256, seal.signature, str(pid), v))

    other = fresh()
    loads = count_snapshot_loads(other)
    assert other.project(CODE) == replayed(other, pid)
    assert sum(loads) == 1
    assert check_snapshots(other) == []
    assert list(other.integrity_faults) == []


def test_a_refused_newest_snapshot_falls_back_to_the_one_before(world, fresh):
    app = world.app
    e = approved_expenditure(world, "1234.56")
    pid = project_id(CODE)
    v1 = snap(app, pid)
    app.raise_risk(world.pm, CODE, title="Late", probability=1, impact=1, owner="o", mitigation="m")
    v2 = snap(app, pid)
    forge(app, pid, v2, b'"1234.56"', b'"9234.56"')

    other = fresh()
    loads = count_snapshot_loads(other)
    for _ in range(3):  # reported once, however often it is met
        assert other.project(CODE).expenditures[e]["amount"] == Decimal("1234.56")
    assert other.project(CODE) == replayed(other, pid)
    assert loads[0] == 1  # the older snapshot, at v1, was used
    assert [(f.version, f.kind) for f in other.integrity_faults] == [(v2, "snapshot-mismatch")]
    assert [s.originator_version for s in other.snapshots.get(pid)] == [v1]


def test_a_snapshot_is_written_with_its_seal_or_not_at_all(world):
    """Without the root key the recorder refuses, in the transaction that inserted the
    snapshot row: neither row is left."""
    from eventsourcing.application import Application

    from ledger.errors import MissingSignerError

    app = world.app
    pid = project_id(CODE)
    app.seal_snapshots_with(None)
    app.take_snapshot(pid)  # the ledger's: nothing to seal with, so nothing taken
    with pytest.raises(MissingSignerError):
        Application.take_snapshot(app, pid)  # the library's, straight to the recorder
    count = f"SELECT COUNT(*) FROM {snapshots_table(app)}"
    assert app.recorder.fetch(count)[0][0] == 0
    assert app.recorder.fetch(f"SELECT COUNT(*) FROM {seals_table(app)}")[0][0] == 0
    with pytest.raises(Exception, match="root key"):
        app.seal_snapshots_with(Signer.generate("not root"))
