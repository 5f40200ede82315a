"""The ledger application: the `eventsourcing` Application wired to the signed recorders.

`open_ledger(url)` opens an existing ledger; `init_ledger(url, passphrase)` creates the
tables once, the root key and the key ring. Nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import OperationalError, PersistenceError, Transcoder

from ledger.backend import Backend, parse_url
from ledger.canonical import canonical_transcoder
from ledger.errors import (
    AlreadyInitialisedError,
    BackendUnavailableError,
    LedgerError,
    MissingSignerError,
    NotInitialisedError,
    StorageLayoutError,
)
from ledger.keyring import KEYRING_ID, KeyRing
from ledger.keys import PASSPHRASE_ENV, Signer
from ledger.keystore import KeyStore
from ledger.reading import LogReading
from ledger.receipts import Receipt
from ledger.recorders.sealed import SealedSnapshots
from ledger.rows import ChainRow
from ledger.sidestore import SideStore

# The library's persistence modules, and the ledger's factories over them: the same
# recorders, with a sealed snapshot store (ledger/recorders/sealed.py, SealedSnapshots).
_FACTORIES = {
    "eventsourcing.sqlite": "ledger.recorders.factories:LedgerSQLiteFactory",
    "eventsourcing.postgres": "ledger.recorders.factories:LedgerPostgresFactory",
}
_log = logging.getLogger(__name__)


class IntegrityFaults:
    """The integrity faults this process met while serving: derived data (so far, stored
    snapshots) that failed its check against the log and was not used.

    Thread-safe; each distinct fault is kept once, in the order met. Each is a
    `ledger.verify.Fault` (kind, position, originator_id, version, detail); snapshots give
    kind "snapshot-mismatch". Read with `list(app.integrity_faults)`, `len(...)`,
    `app.integrity_faults.first()`; `add(fault)` returns True when the fault is new.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Any] = []
        self._seen: set[tuple] = set()

    def add(self, fault: Any) -> bool:
        key = (fault.kind, fault.position, fault.originator_id, fault.version, fault.detail)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._faults.append(fault)
            return True

    def first(self) -> Any:
        with self._lock:
            return self._faults[0] if self._faults else None

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class LedgerApplication(LogReading, Application):
    """An event-sourced application whose every saved event is signed and chained.

    Snapshots are sealed (ledger/snapshots.py): written only by a process that holds the
    ledger's root key (`seal_snapshots_with(root)`, or loaded once from
    $PMO_LEDGER_PASSPHRASE when a snapshot is first due; without it, none is written and
    loads fold the events), and checked on every read. A snapshot that fails its check is
    not used and is recorded in `integrity_faults` (an `IntegrityFaults`: a thread-safe
    list of `ledger.verify.Fault`, kind "snapshot-mismatch"), which a serving-integrity
    monitor reads.
    """

    name = "pmo_ledger"
    # Who wants to know of each save (the web layer's idempotency keys): a callable giving
    # the current observer or None; the observer's `before_append(events, mapper)` runs
    # before the write transaction, `after_append(events, receipts)` after its commit.
    append_observer: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The library names a subclass after itself, and on PostgreSQL the name picks the
        # events table. Every application over one ledger must read the same table (the
        # verifier opens a plain LedgerApplication), so subclasses keep the ledger's name.
        if "name" not in cls.__dict__:
            cls.name = LedgerApplication.name
        super().__init_subclass__(**kwargs)
    snapshotting_intervals = {KeyRing: 50}

    def __init__(self, backend: Backend, *, create_tables: bool = False) -> None:
        self.backend = backend
        env = dict(backend.env)
        env["CREATE_TABLE"] = "yes" if create_tables else "no"
        module = env.get("PERSISTENCE_MODULE", "")
        env["PERSISTENCE_MODULE"] = _FACTORIES.get(module, module)
        self._ring_cache: tuple[int, KeyRing] | None = None
        self.integrity_faults = IntegrityFaults()
        self._sealer_known = False
        self._side_store: SideStore | None = None
        self._side_lock = threading.Lock()
        super().__init__(env)
        if self.snapshots is not None:
            if not isinstance(self.snapshots.recorder, SealedSnapshots):
                raise LedgerError(f"the snapshot store of {backend.describe()} is not sealed: "
                                  f"PERSISTENCE_MODULE must name one of {sorted(_FACTORIES.values())}")
            self.snapshots.recorder.attach(self.recorder, self.integrity_faults.add)

    @property
    def side_store(self) -> SideStore:
        """The tables beside the log in this database (ledger/sidestore.py)."""
        with self._side_lock:
            if self._side_store is None:
                self._side_store = SideStore(self.backend)
            return self._side_store

    def close(self) -> None:
        with self._side_lock:
            if self._side_store is not None:
                self._side_store.close()
                self._side_store = None
        super().close()

    def construct_transcoder(self) -> Transcoder:
        return canonical_transcoder()

    # Snapshots: sealed by the root key, or not written ----------------------------------

    def seal_snapshots_with(self, root: Signer | None) -> None:
        """Write snapshots sealed by `root`, the ledger's root key (None: write none)."""
        if root is not None and root.key_id != self.keyring().root_key_id:
            raise LedgerError(f"key {root.key_id[:16]}... is not this ledger's root key: "
                              "snapshots are sealed by the root key only")
        self._sealer_known = True
        if self.snapshots is not None:
            self.snapshots.recorder.sealer = root

    def snapshot_sealer(self) -> Signer | None:
        """The root key snapshots are sealed with: the one given, else (asked once) the
        one $PMO_LEDGER_PASSPHRASE unlocks, else None."""
        if not self._sealer_known:
            self._sealer_known = True
            passphrase = os.environ.get(PASSPHRASE_ENV)
            if passphrase and self.snapshots is not None:
                try:
                    self.seal_snapshots_with(self.root_signer(passphrase))
                except LedgerError as e:
                    _log.warning("this process writes no snapshots: %s", e)
        return self.snapshots.recorder.sealer if self.snapshots is not None else None

    def take_snapshot(self, aggregate_id: Any, version: int | None = None, *args: Any, **kwargs: Any) -> None:
        """The library's, where this process holds the root key to seal with; otherwise
        nothing (the library calls this every N events: loads then fold the events)."""
        if self.snapshot_sealer() is not None:
            super().take_snapshot(aggregate_id, version, *args, **kwargs)

    def save(self, *objs: Any, signer: Signer | None = None, **kwargs: Any) -> Any:
        """Save new events signed by `signer`: the person who acted."""
        if not isinstance(signer, Signer):
            raise MissingSignerError(
                "refusing to record unsigned events: pass signer=<the acting person's Signer>"
            )
        actors = self.actors_of(objs)
        if self._ring_cache is None:
            self.check_signer(signer, objs, actors)  # first save: load the key ring once
        # Then checked inside the write transaction (ledger.recorders calls `key_check`
        # with the ring's version there): no extra read per save, and no gap between
        # the check and the write. Refused there, the transaction rolls back.
        key_check = partial(self._check_in_transaction, signer, objs, actors)
        observer = self.append_observer() if self.append_observer is not None else None
        if observer is None:
            # The library's save: its keyword arguments reach the recorder's insert.
            return super().save(*objs, signer=signer, key_check=key_check, **kwargs)
        events = [e for o in objs if isinstance(o, Aggregate) for e in o.pending_events]
        observer.before_append(events, self.mapper)  # raising here, nothing is written
        receipts = kwargs.setdefault("receipts", [])
        recordings = super().save(*objs, signer=signer, key_check=key_check, **kwargs)
        observer.after_append(events, receipts)
        return recordings

    def append(self, *objs: Any, signer: Signer, **kwargs: Any) -> list[Receipt]:
        """Record the aggregates' new events, signed by `signer`; one receipt per event,
        in log order, taken from what the write itself stored (ledger/receipts.py)."""
        receipts: list[Receipt] = []
        self.save(*objs, signer=signer, receipts=receipts, **kwargs)
        return receipts

    def actors_of(self, objs: tuple[Any, ...]) -> frozenset:
        """Whom the events being saved name as their actor: the signer must be each of them."""
        return named_actors(objs)

    def check_signer(self, signer: Signer, objs: tuple[Any, ...], actors: frozenset = frozenset()) -> None:
        """Refuse a key the log does not (or no longer) allow to sign.

        Verification would flag such an event afterwards; refusing it means it never
        enters the log. The key ring is re-read only when its version has moved. The only
        save without a ring is the one that starts it, signed by the root key it introduces.
        """
        latest = self.recorder.select_events(KEYRING_ID, desc=True, limit=1)
        version = latest[0].originator_version if latest else None
        self._load_ring(version)
        self._check_key(signer, objs, version, actors)

    def _load_ring(self, version: int | None) -> None:
        if version is not None and (self._ring_cache is None or self._ring_cache[0] != version):
            self._ring_cache = (version, self.repository.get(KEYRING_ID, version=version))

    def _check_key(self, signer: Signer, objs: tuple[Any, ...], version: int | None,
                   actors: frozenset = frozenset()) -> None:
        if version is None:
            if any(isinstance(o, KeyRing) for o in objs):
                return
            raise NotInitialisedError("the ledger has no key ring: run `pmo-ledger init` first")
        if self._ring_cache is None or self._ring_cache[0] != version:
            # `_load_ring` or `_check_in_transaction` ran first; reaching here otherwise is a bug.
            raise LedgerError(f"the key ring at version {version} was not loaded before checking a key")
        self._ring_cache[1].check_key_usable(signer.key_id)
        self._ring_cache[1].check_acts_for(signer.key_id, actors)

    def _check_in_transaction(self, signer: Signer, objs: tuple[Any, ...], actors: frozenset,
                              version: int | None) -> None:
        # Called by the recorder inside the write transaction, with the key ring's version
        # read under the write lock. Where the ring moved since it was cached (another
        # process registered or revoked a key), the ring at that version is loaded now:
        # through another pooled connection, which sees it, since it is committed (SQLite
        # WAL readers and PostgreSQL's READ COMMITTED both see committed rows while the
        # write lock is held), and no later version can be committed before this save.
        self._load_ring(version)
        self._check_key(signer, objs, version, actors)

    # The log as the ledger sees it ------------------------------------------------------

    @property
    def chain(self) -> Any:
        return self.recorder

    def size(self) -> int:
        return self.head()[0]

    def head(self) -> tuple[int, bytes]:
        """The last chain position and its hash ((0, 32 zero bytes) for an empty log)."""
        rows = self.recorder.fetch(self.recorder.head_sql)
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, bytes(32))

    def read_chain(self, lo: int, hi: int, topics: tuple[str, ...] = ()) -> list[ChainRow]:
        return self.recorder.read_chain(lo, hi, topics)

    def read_log(self, lo: int, hi: int, topics: tuple[str, ...] = ()) -> list[ChainRow]:
        """Positions lo..hi (those of `topics`, when given), signatures and hashes included."""
        return self.recorder.read_chain(lo, hi, topics)

    def read_positions(self, positions: Iterable[int]) -> list[ChainRow]:
        """The chain rows at these positions (those that exist), in position order."""
        return self.recorder.read_positions(positions)

    def iter_chain(self, batch: int = 2000) -> Iterator[ChainRow]:
        lo, n = 1, self.size()
        while lo <= n:
            yield from self.read_chain(lo, min(n, lo + batch - 1))
            lo += batch

    def keyring(self) -> KeyRing:
        return self.repository.get(KEYRING_ID)

    @property
    def keystore(self) -> KeyStore:
        return KeyStore(self.recorder)

    # Key administration: load -> decide -> save ------------------------------------------

    def register_key(
        self, public: bytes, owner: str, *, by: Signer, actor_id: str, actor_name: str,
        may_register_keys: bool = False, reason: str = "",
    ) -> str:
        from ledger.keys import key_id

        ring = self.keyring()
        kid = key_id(public)
        ring.register_key(
            key_id=kid, public_key=public.hex(), owner=owner, may_register_keys=may_register_keys,
            by_key_id=by.key_id, actor_id=actor_id, actor_name=actor_name, reason=reason,
        )
        self.save(ring, signer=by)
        return kid

    def revoke_key(self, kid: str, *, by: Signer, actor_id: str, actor_name: str, reason: str) -> None:
        ring = self.keyring()
        ring.revoke_key(key_id=kid, by_key_id=by.key_id, actor_id=actor_id, actor_name=actor_name, reason=reason)
        self.save(ring, signer=by)

    def enrol_signer(
        self, owner: str, passphrase: str, *, by: Signer, actor_id: str, actor_name: str,
        may_register_keys: bool = False,
    ) -> Signer:
        """Generate a key for `owner`, register it in the log and hold it encrypted."""
        signer = Signer.generate(owner)
        self.register_key(
            signer.public_bytes, owner, by=by, actor_id=actor_id, actor_name=actor_name,
            may_register_keys=may_register_keys, reason=f"signing key for {owner}",
        )
        self.keystore.put(signer, passphrase)
        return signer

    def signer_for(self, kid: str, passphrase: str) -> Signer:
        """The held private key `kid`, refused when the log says it is no longer valid."""
        self.keyring().check_key_usable(kid)
        return self.keystore.get(kid, passphrase)

    def root_signer(self, passphrase: str) -> Signer:
        return self.keystore.get(self.keyring().root_key_id, passphrase)


def named_actors(objs: tuple[Any, ...]) -> frozenset:
    """The actors the pending events name (payload field `actor_id`), but the key ring's
    start, which names whoever ran `init` and is signed by the root key it introduces."""
    return frozenset(
        e.actor_id for o in objs if isinstance(o, Aggregate) for e in o.pending_events
        if hasattr(e, "actor_id") and not isinstance(e, KeyRing.Started)
    )


def open_ledger(url: str, app_class: type[LedgerApplication] = LedgerApplication) -> LedgerApplication:
    """Open an initialised ledger; clear errors for a bad URL, no server, or no ledger."""
    backend = parse_url(url)
    if backend.kind == "sqlite" and not backend.sqlite_path.exists():  # type: ignore[union-attr]
        # Checked first, because opening a missing SQLite file would create it.
        raise NotInitialisedError(
            f"no ledger at {backend.describe()}: run `pmo-ledger init --db {url}` first"
        )
    app = _construct(app_class, backend, create_tables=False)
    try:
        app.size()
    except sqlite3.DatabaseError as e:  # raised unwrapped when connecting, e.g. not a database
        app.close()
        raise BackendUnavailableError(f"cannot open {backend.describe()}: {e}") from None
    except PersistenceError as e:
        app.close()
        if "no such column: chain_hash" in str(e):  # ledger_chain is a table, not the view
            raise StorageLayoutError(
                f"{backend.describe()} holds a ledger in the earlier SQLite layout (a separate "
                "ledger_chain table); this version keeps the chain in the events rows. Export it "
                "with the version that wrote it, or, for a demo database, delete the file and run "
                "the demo again"
            ) from None
        if isinstance(e, OperationalError) and "does not exist" not in str(e) and "no such table" not in str(e):
            raise BackendUnavailableError(f"cannot reach {backend.describe()}: {e}") from None
        raise NotInitialisedError(
            f"no ledger at {backend.describe()}: run `pmo-ledger init --db {url}` first"
        ) from None
    if app.snapshots is not None:
        try:  # a ledger made before snapshots were sealed: its tables, made now
            app.snapshots.recorder.ensure_tables()
        except PersistenceError as e:
            _log.warning("cannot create the snapshot tables of %s: %s", backend.describe(), e)
    return app


def ledger_size(url: str) -> int:
    """The number of positions in the ledger at `url` (opened for the question, then closed)."""
    app = open_ledger(url)
    try:
        return app.size()
    finally:
        app.close()


def init_ledger(
    url: str, passphrase: str, app_class: type[LedgerApplication] = LedgerApplication,
    *, actor_id: str = "ledger-init", actor_name: str = "Ledger initialisation",
) -> tuple[LedgerApplication, Signer]:
    """Create the tables, the root key and the key ring. Refuses an existing ledger."""
    from ledger.keys import configured_passphrase

    passphrase = configured_passphrase(passphrase)
    backend = parse_url(url)
    if backend.kind == "sqlite":
        backend.sqlite_path.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    app = _construct(app_class, backend, create_tables=True)
    try:
        if app.size() > 0:
            raise AlreadyInitialisedError(f"{backend.describe()} already holds a ledger")
        root = Signer.generate("ledger-root")
        ring = KeyRing(
            origin=f"pmo-ledger/{uuid4()}", root_key_id=root.key_id,
            root_public_key=root.public_bytes.hex(), actor_id=actor_id, actor_name=actor_name,
        )
        app.keystore.put(root, passphrase)
        app.save(ring, signer=root)
        app.seal_snapshots_with(root)
    except BaseException:
        app.close()
        raise
    return app, root


def _construct(app_class: type[LedgerApplication], backend: Backend, *, create_tables: bool) -> LedgerApplication:
    try:
        app = app_class(backend, create_tables=create_tables)
    except LedgerError:
        raise
    except (PersistenceError, OSError, sqlite3.DatabaseError) as e:
        raise BackendUnavailableError(f"cannot open {backend.describe()}: {e}") from None
    if create_tables and app.snapshots is not None:
        with contextlib.suppress(AttributeError):
            app.snapshots.recorder.create_table()  # type: ignore[attr-defined]
    return app
