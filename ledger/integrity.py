"""The integrity monitor: the log checked while it is served, before anything derived from it
is used (DESIGN.md, promise 4).

    monitor = monitor_for(app)       # one per open LedgerApplication
    monitor.clean_head()             # verify any new positions; the last one that may be used
    monitor.fault                    # None (clean) or the first Fault found; .faults: all

What it checks, and when:

- **New positions**, before they may enter the read models (`clean_head`, called by every
  catch-up): each is checked by `ledger.verify.check_rows` -- its signature against the key
  valid at that position, its chain link from the stored chain hash before it, and whatever
  else check_rows checks -- with the key history kept up to date as key events arrive. The
  cheap case, nothing new, is one indexed read of the chain head.
- **Start-up** resumes from the last position verified clean, remembered in the side table
  `ledger_integrity` (with its chain hash), after checking that the chain hash stored there
  is still the one remembered; if not, that position is a fault (`remembered-hash-mismatch`)
  and verification starts again from position 1. Without a remembered position it starts
  from 1 (with `workers` > 1, by `ledger.verify.verify_log` in parallel).
- **The sweep** (`sweep`, a serving process's background thread, every few seconds):
  every position up to the last verified one is read again and its chain link recomputed
  from the stored bytes and signature -- hashing only, no signature checks, about 60 times
  cheaper than verification -- so a byte changed behind a position already verified is
  seen within seconds; where a link fails, check_rows gives the verdict. A chain rewritten
  to hide a change no longer ends in the remembered hash, which the sweep checks too.
- **The full verification** (`full_verify`: `ledger.verify.verify_database`, every check
  `pmo-ledger verify` makes: checkpoints, stored snapshots re-derived) in the same background thread on a schedule (default daily, and
  once shortly after start), never on a request thread; a lease row in the side table lets
  at most one process of the server run one at a time. The background thread reads
  through an application of its own, so that closing the monitored one never takes a
  connection from under it.

Faults are also taken from `app.integrity_faults` when the application has that list (the
snapshot loader reports a forged snapshot it dropped there). A fault, once found, stays
until the process ends: the running app shows it and refuses writes until it is resolved
(the database restored from a good copy, and the server restarted).

Each process verifies for itself: a serving worker never takes another's word, written in a
database an insider can write, for what it may project. Only the resume position is shared,
and it is checked against the log before it is used.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.errors import LedgerError
from ledger.hashing import GENESIS_HASH, chain_hash, record_hash
from ledger.keyring import KEY_TOPICS
from ledger.rows import ChainRow
from ledger.verify import (
    PARALLEL_THRESHOLD,
    DatabaseSource,
    Fault,
    KeyTimeline,
    Report,
    build_timeline,
    check_rows,
    verify_database,
    verify_log,
)

TABLE = "ledger_integrity"
RESUME = "resume"  # the last position verified clean, and its chain hash
LEASE = "full-verification-lease"  # who runs the full verification now (a token), since when
RESULT = "full-verification"  # the last full verification's outcome, for operators

# Settings (environment; the web app's INTEGRITY_* config overrides them).
FULL_VERIFY_ENV = "PMO_LEDGER_FULL_VERIFY_SECONDS"
SWEEP_ENV = "PMO_LEDGER_INTEGRITY_SWEEP_SECONDS"
DEFAULT_FULL_VERIFY_SECONDS = 86_400.0  # daily
DEFAULT_SWEEP_SECONDS = 5.0  # a pause between sweeps; 0 turns the sweep off
FIRST_FULL_DELAY = 10.0  # the first full verification after start, at most this much later
LEASE_SECONDS = 3600.0  # a lease older than this was left by a process that died
LEASE_RETRY = 60.0  # another process holds the lease: ask again this much later
POLL_SECONDS = 2.0  # a background thread without sweeps still looks for new positions

CHUNK = 5000  # positions read and checked at a time
INLINE_LIMIT = 5000  # positions a request thread verifies per call while a background thread runs
SWEEP_CHUNK = 5000
SWEEP_PAUSE = 3.0  # a sweep sleeps this many times the time each chunk took (<= 25% of a core)
PERSIST_EVERY = 1000  # the resume row is rewritten after this many new positions...
PERSIST_SECONDS = 30.0  # ...or this many seconds, whichever comes first

log = logging.getLogger("pmo_ledger.integrity")


class LedgerFaultError(LedgerError):
    """The ledger has an integrity fault: nothing is recorded until it is resolved."""

    code = "ledger-fault"

    def __init__(self, fault: Fault) -> None:
        super().__init__(
            f"{describe(fault)}. Nothing was recorded: changes are refused until the fault is "
            "resolved (run `pmo-ledger verify` for every fault)")
        self.fault = fault


def describe(fault: Fault) -> str:
    """`the ledger has an integrity fault at position N (kind): detail`."""
    where = f"at position {fault.position} " if fault.position is not None else ""
    return f"the ledger has an integrity fault {where}({fault.kind}): {fault.detail}"


def _order(f: Fault) -> tuple[bool, int, str]:
    return (f.position is None, f.position or 0, f.kind)


# The side table ------------------------------------------------------------------------------


def _sql(recorder: Any, sql: str) -> str:
    return sql.replace("{integrity}", getattr(recorder, "schema_prefix", "") + TABLE)


def ensure_table(app: Any) -> None:
    """Create `ledger_integrity` if it is missing (two processes may race to: one wins)."""
    rec = app.recorder
    ddl = _sql(rec, "CREATE TABLE IF NOT EXISTS {integrity} (name TEXT PRIMARY KEY, "
                    "position BIGINT NOT NULL, chain_hash TEXT NOT NULL, detail TEXT NOT NULL, "
                    "at TEXT NOT NULL)")
    try:
        rec.execute(ddl)
    except Exception:  # noqa: BLE001 - PostgreSQL: a concurrent CREATE of the same table
        rec.execute(ddl)


def _read(app: Any, name: str) -> tuple[int, str, str, str] | None:
    rows = app.recorder.fetch(_sql(app.recorder, "SELECT position, chain_hash, detail, at "
                                                 "FROM {integrity} WHERE name = ?"), (name,))
    return (int(rows[0][0]), str(rows[0][1]), str(rows[0][2]), str(rows[0][3])) if rows else None


def _write(app: Any, name: str, position: int, chain: str, detail: str) -> None:
    app.recorder.execute(_sql(app.recorder,
        "INSERT INTO {integrity} (name, position, chain_hash, detail, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
        "chain_hash = excluded.chain_hash, detail = excluded.detail, at = excluded.at"),
        (name, position, chain, detail, _now()))


def _now(delta: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def remembered(app: Any) -> tuple[int, bytes] | None:
    """The position start-up resumes from and the chain hash verified there (None: none)."""
    ensure_table(app)
    row = _read(app, RESUME)
    if row is None:
        return None
    try:
        return row[0], bytes.fromhex(row[1])
    except ValueError:
        return row[0], b""


# Which databases a running app shows faults for ------------------------------------------------

_TOLERATED: set[str] = set()


def tolerate(url: str) -> None:
    """A web app serves the database at `url` in this process and shows its faults itself
    (a banner on every page, writes refused): catch-ups over it stop before a fault instead
    of raising (domain.readmodels)."""
    _TOLERATED.add(url)


def tolerated(app: Any) -> bool:
    backend = getattr(app, "backend", None)
    return getattr(backend, "url", None) in _TOLERATED


_MONITORS_LOCK = threading.Lock()
_ATTRIBUTE = "_pmo_integrity_monitor"


def monitor_for(app: Any) -> IntegrityMonitor:
    """The monitor of this open application (made on first use; one per application, so a
    new application -- a new process, a restart -- starts up again)."""
    monitor = app.__dict__.get(_ATTRIBUTE)
    if monitor is None:
        with _MONITORS_LOCK:
            monitor = app.__dict__.get(_ATTRIBUTE)
            if monitor is None:
                monitor = IntegrityMonitor(app)
                app.__dict__[_ATTRIBUTE] = monitor
    return monitor


# The monitor ---------------------------------------------------------------------------------------


class IntegrityMonitor:
    """Verifies the log of one open LedgerApplication as it grows (see the module's doc)."""

    def __init__(self, app: Any, *, pinned_root: str | None = None) -> None:
        self.app = app
        self.pinned_root = pinned_root
        self._lock = threading.Lock()  # verifying new positions, and recording faults
        self._started = False
        self.resumed_from: int | None = None  # where start-up resumed (0: from position 1)
        self.verified = 0  # the last position verified clean...
        self.verified_hash = GENESIS_HASH  # ...and the chain hash stored there
        self._faults: list[Fault] = []
        self._seen: set[tuple] = set()
        self._key_rows: list[ChainRow] = []
        self._timeline = KeyTimeline()
        self._versions: dict[str, int] = {}  # last version seen of each aggregate
        self._versions_known = False  # every aggregate seen from position 1 on
        self._persisted = 0
        self._persisted_at = time.monotonic()
        self._external: tuple[int, int] = (0, 0)  # (id of app.integrity_faults, entries taken)
        self._token = secrets.token_hex(16)  # this monitor's lease token
        self._background: threading.Thread | None = None
        self.inline_limit: int | None = None  # set while a background thread catches up
        self.sweeps = 0
        self.full_verifications = 0
        self.locate_requested = False  # a full verification is wanted at once (`_record`)

    # State -----------------------------------------------------------------------------------

    @property
    def fault(self) -> Fault | None:
        """The first fault (lowest position), or None while the log is clean."""
        faults = self._faults
        return faults[0] if faults else None

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    @property
    def tolerant(self) -> bool:
        """A running app shows this ledger's faults itself (see `tolerate`)."""
        return tolerated(self.app)

    def bound(self) -> int:
        """The last position that may be used: verified clean, and before every fault."""
        first = self._first_position()
        return self.verified if first is None else min(self.verified, first - 1)

    def _first_position(self) -> int | None:
        for f in self._faults:  # in order: positions first
            return f.position
        return None

    def clean_head(self) -> int:
        """Verify the positions written since the last call; the last position that may
        enter the read models (what every catch-up stops at)."""
        self.poll(limit=self.inline_limit)
        return self.bound()

    # Start-up and new positions ------------------------------------------------------------------

    def start(self, progress: Callable[[int, int], None] | None = None, workers: int = 1) -> None:
        """Resume from the remembered position (its hash checked), or verify from 1 (with
        `workers` > 1 on a large log: `verify_log` in parallel); then up to the head."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._start(progress, workers)
            self._started = True
        self.persist()

    def _start(self, progress: Callable[[int, int], None] | None, workers: int) -> None:
        mark = remembered(self.app)
        if mark is not None:
            position, hashed = mark
            rows = self.app.read_chain(position, position) if position > 0 else []
            stored = rows[0].chain_hash if rows else None
            if position > 0 and stored == hashed:
                self.verified, self.verified_hash, self.resumed_from = position, hashed, position
                self._persisted = position
                self._key_rows = list(self.app.read_chain(1, position, KEY_TOPICS))
                self._timeline, _ = build_timeline(self._key_rows, self.pinned_root)
                head, _ = self.app.head()
                self._advance(head, None, progress)
                return
            if position > 0:
                found = "no chain row there any more" if not rows else f"{_hex(stored)} stored there"
                self._record([Fault(position, rows[0].originator_id if rows else None,
                                    rows[0].originator_version if rows else None,
                                    "remembered-hash-mismatch",
                                    f"position {position} was verified with chain hash {_hex(hashed)}; "
                                    f"{found} now (the log was rewritten, or the integrity "
                                    "record edited): verifying again from position 1")])
        self.resumed_from = 0
        self._versions_known = True
        head, _ = self.app.head()
        if workers > 1 and head >= PARALLEL_THRESHOLD and self._first_position() is None:
            self._verify_all(progress, workers)
        else:
            self._advance(head, None, progress)

    def _verify_all(self, progress: Callable[[int, int], None] | None, workers: int) -> None:
        """From position 1, every check, in parallel (a command line's first start)."""
        report = verify_log(DatabaseSource(self.app), workers=workers, progress=progress,
                            pinned_root=self.pinned_root)
        self._record(report.faults)
        first = self._first_position()
        top = report.events if first is None else max(0, min(report.events, first - 1))
        if top == report.events:
            self.verified_hash = report.head
        else:
            self.verified_hash = self.app.read_chain(top, top)[0].chain_hash if top else GENESIS_HASH
        self.verified = top
        self._key_rows = list(self.app.read_chain(1, top, KEY_TOPICS)) if top else []
        self._timeline, _ = build_timeline(self._key_rows, self.pinned_root)
        self._versions_known = False

    def poll(self, limit: int | None = None) -> Fault | None:
        """Look for new positions (one read of the chain head when there are none) and
        verify them, at most `limit` in this call; take reported snapshot faults."""
        if not self._started:
            self.start()
        self._take_external()
        with self._lock:
            if not self._blocked():
                head, hashed = self.app.head()
                if head > self.verified:
                    self._advance(head, limit)
                elif (head, hashed) != (self.verified, self.verified_hash):
                    self._moved_back(head, hashed)
        self._maybe_persist()
        return self.fault

    def _blocked(self) -> bool:
        """A fault at or before the next position: nothing after it is verified."""
        first = self._first_position()
        return first is not None and first <= self.verified + 1

    def _moved_back(self, head: int, hashed: bytes) -> None:
        if head < self.verified:
            self._record([Fault(head + 1, None, None, "truncated",
                                f"the log ends at position {head}; position {self.verified} "
                                "was verified before")])
        else:
            self._record([Fault(head, None, None, "remembered-hash-mismatch",
                                f"the chain hash at position {head} changed since it was "
                                f"verified ({_hex(self.verified_hash)}, now {_hex(hashed)})")])

    def _advance(self, head: int, limit: int | None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        """Verify positions verified+1..head (at most `limit`), chunk by chunk; stop at the
        first chunk with a fault, the last clean position before it kept as verified."""
        start = self.verified
        top = head if limit is None else min(head, start + limit)
        first = self._first_position()
        if first is not None:  # never past a known fault (a remembered hash that changed)
            top = min(top, first - 1)
        lo = start + 1
        while lo <= top and not self._blocked():
            hi = min(top, lo + CHUNK - 1)
            rows = self.app.read_chain(max(1, lo - 1), hi)
            if lo > 1:
                anchor = rows[0] if rows and rows[0].position == lo - 1 else None
                if anchor is None or anchor.chain_hash != self.verified_hash:
                    self._record([Fault(lo - 1, getattr(anchor, "originator_id", None),
                                        getattr(anchor, "originator_version", None),
                                        "remembered-hash-mismatch",
                                        f"the chain row at position {lo - 1} changed since it was "
                                        f"verified (chain hash {_hex(self.verified_hash)})")])
                    return
                rows = rows[1:]
            faults = self._new_keys(rows, lo, hi)
            result = check_rows(rows, lo, hi, self.verified_hash if lo > 1 else GENESIS_HASH,
                                self._timeline.keys)
            faults += result.faults
            faults += self._stitch(result.versions)
            if faults:
                self._record(faults)
                good = min(f.position for f in faults if f.position is not None) - 1
                clean = [r for r in rows if r.position == good] if good >= lo else []
                if clean:
                    self.verified, self.verified_hash = good, clean[0].chain_hash
                return
            self.verified, self.verified_hash = hi, rows[-1].chain_hash
            if progress is not None:
                progress(hi - start, top - start)
            lo = hi + 1

    def _new_keys(self, rows: Sequence[ChainRow], lo: int, hi: int) -> list[Fault]:
        """Bring the key history up to date with the key events among `rows`; the faults
        the history finds in lo..hi."""
        new = [r for r in rows if r.state is not None and r.topic in KEY_TOPICS]
        faults: list[Fault] = []
        if new:
            self._key_rows.extend(new)
            self._timeline, found = build_timeline(self._key_rows, self.pinned_root)
            faults = [f for f in found if f.position is not None and lo <= f.position <= hi]
        if lo == 1 and rows and self._timeline.root_key_id is None:
            faults.append(Fault(1, None, None, "unknown-key", "the log does not start with a key ring"))
        return faults

    def _stitch(self, versions: dict[str, tuple[int, int, int, int]]) -> list[Fault]:
        """Versions run 1, 2, 3... across chunks too (check_rows sees one chunk)."""
        faults = []
        for oid, (first, first_position, last, _) in versions.items():
            previous = self._versions.get(oid, 0 if self._versions_known else None)
            if previous is not None and first != previous + 1:
                faults.append(Fault(first_position, oid, first, "version-gap",
                                    f"expected version {previous + 1}, found {first}"))
            self._versions[oid] = last
        return faults

    # Faults -------------------------------------------------------------------------------------------

    def _record(self, faults: Iterable[Fault]) -> None:
        new = []
        for f in faults:
            key = (f.position, f.kind, f.originator_id, f.version)
            if key not in self._seen:
                self._seen.add(key)
                new.append(f)
        if not new:
            return
        was_clean = not self._faults
        self._faults = sorted([*self._faults, *new], key=_order)
        if any(f.kind in _LOCATE_AT_ONCE for f in new):
            # Only the chain hash behind what was verified changed (the log re-linked, an
            # old act perhaps re-signed with other valid keys): the full verification says
            # which position, now rather than at its next turn.
            self.locate_requested = True
        if was_clean:
            log.warning("ledger integrity fault: %s", describe(self._faults[0]))

    def record(self, faults: Iterable[Fault]) -> None:
        """Record faults found elsewhere (thread-safe)."""
        with self._lock:
            self._record(faults)

    def _take_external(self) -> None:
        """Faults the application reports itself (`app.integrity_faults`), once each."""
        reported = getattr(self.app, "integrity_faults", None)
        if not reported:
            return
        ident, taken = self._external
        if ident != id(reported):
            taken = 0
        entries = list(reported)
        if len(entries) <= taken:
            return
        self._external = (id(reported), len(entries))
        self.record([_as_fault(f) for f in entries[taken:]])

    # Remembering where to resume ------------------------------------------------------------------------

    def persist(self) -> None:
        """Remember the last position verified clean (while no fault is known)."""
        with self._lock:
            position, hashed = self.verified, self.verified_hash
            if self._faults or position <= self._persisted:
                return
        _write(self.app, RESUME, position, hashed.hex(), "")
        self._persisted, self._persisted_at = position, time.monotonic()

    def _maybe_persist(self) -> None:
        if self._faults or self.verified <= self._persisted:
            return
        if (self.verified - self._persisted >= PERSIST_EVERY
                or time.monotonic() - self._persisted_at >= PERSIST_SECONDS):
            self.persist()

    # The sweep ------------------------------------------------------------------------------------------

    def sweep(self, progress: Callable[[int, int], None] | None = None, pause: float = 0.0,
              stop: threading.Event | None = None, reader: Any = None) -> Fault | None:
        """Read every position up to the last verified one again and recompute its chain
        link from the stored bytes and signature; where one fails, check_rows judges the
        chunk. `pause`: sleep that many times each chunk's time (a background sweep);
        `reader`: the application to read through (default the monitored one)."""
        if not self._started:
            self.start()
        reader = reader or self.app
        with self._lock:
            top, anchor = self.bound(), self.verified_hash
            anchored = top == self.verified
            keys = self._timeline.keys
        previous, lo = GENESIS_HASH, 1
        while lo <= top:
            if stop is not None and stop.is_set():
                return self.fault
            began = time.monotonic()
            hi = min(top, lo + SWEEP_CHUNK - 1)
            rows = reader.read_chain(lo, hi)
            if not _links_hold(rows, lo, hi, previous):
                found = check_rows(rows, lo, hi, previous, keys).faults
                if found:
                    self.record(found)
                    return self.fault
            previous = rows[-1].chain_hash if rows else previous
            if progress is not None:
                progress(hi, top)
            if pause:
                time.sleep((time.monotonic() - began) * pause)
            lo = hi + 1
        if anchored and top and previous != anchor:
            self.record([Fault(top, None, None, "remembered-hash-mismatch",
                               f"the chain now ends at position {top} in {_hex(previous)}, not in "
                               f"the {_hex(anchor)} verified there (the chain was rewritten)")])
        self.sweeps += 1
        return self.fault

    # The full verification ----------------------------------------------------------------------------

    def full_verify(self, progress: Callable[[int, int], None] | None = None, workers: int = 1,
                    reader: Any = None) -> Report:
        """Every check `pmo-ledger verify` makes (`ledger.verify.verify_database`: the whole
        log, then every stored snapshot re-derived); its faults are recorded."""
        reader = reader or self.app
        report = verify_database(reader, workers=workers, progress=progress,
                                 pinned_root=self.pinned_root)
        self.full_verifications += 1
        self.record(report.faults)
        first = report.faults[0] if report.faults else None
        _write(reader, RESULT, report.events, report.head.hex(), json.dumps(
            {"ok": report.ok, "faults": len(report.faults),
             "first": first.as_dict() if first else None, "seconds": round(report.seconds, 3)}))
        return report

    def claim_full_verification(self, reader: Any = None) -> bool:
        """Take the server's lease to run the full verification (False: another process
        holds it, and has held it for less than LEASE_SECONDS)."""
        reader = reader or self.app
        ensure_table(reader)
        rec = reader.recorder
        rec.execute(_sql(rec, "INSERT INTO {integrity} (name, position, chain_hash, detail, at) "
                              "VALUES (?, 0, '', '', '') ON CONFLICT (name) DO NOTHING"), (LEASE,))
        rec.execute(_sql(rec, "UPDATE {integrity} SET detail = ?, at = ? WHERE name = ? "
                              "AND (detail = '' OR detail = ? OR at < ?)"),
                    (self._token, _now(), LEASE, self._token, _now(-LEASE_SECONDS)))
        row = _read(reader, LEASE)
        return row is not None and row[2] == self._token

    def release_full_verification(self, reader: Any = None) -> None:
        rec = (reader or self.app).recorder
        rec.execute(_sql(rec, "UPDATE {integrity} SET detail = '', at = ? WHERE name = ? AND detail = ?"),
                    (_now(), LEASE, self._token))

    # The background thread ------------------------------------------------------------------------------

    def start_background(self, *, sweep_seconds: float = DEFAULT_SWEEP_SECONDS,
                         full_seconds: float = DEFAULT_FULL_VERIFY_SECONDS) -> None:
        """Start (once) the thread that sweeps every `sweep_seconds` (0: never) and runs
        the full verification every `full_seconds` (0: never; the first after at most
        FIRST_FULL_DELAY). It reads through an application of its own (closing the
        monitored one must never pull a connection from under it), and ends when the
        monitored application is closed. New positions are verified by the requests
        themselves (`clean_head`, `poll`), before they answer."""
        if (sweep_seconds <= 0 and full_seconds <= 0) or (
                self._background is not None and self._background.is_alive()):
            return
        with _MONITORS_LOCK:
            if self._background is not None and self._background.is_alive():
                return
            self.inline_limit = INLINE_LIMIT
            self._background = threading.Thread(
                target=_run_background,
                args=(weakref.ref(self), getattr(self.app, "closing", None) or threading.Event(),
                      float(sweep_seconds), float(full_seconds)),
                name="pmo-ledger-integrity", daemon=True)
            self._background.start()

    def _open_reader(self) -> Any:
        from ledger.application import open_ledger

        return open_ledger(self.app.backend.url, app_class=type(self.app))

    def _full_if_free(self, every: float, reader: Any) -> float:
        """Run the full verification if this process gets the lease; seconds until the next."""
        if not self.claim_full_verification(reader):
            return min(every, LEASE_RETRY)
        self.locate_requested = False
        try:
            report = self.full_verify(reader=reader)
        finally:
            self.release_full_verification(reader)
        log.info("full verification: %s (%d events, %.1fs)",
                 "clean" if report.ok else f"{len(report.faults)} fault(s)", report.events, report.seconds)
        return every


def _run_background(ref: weakref.ref[IntegrityMonitor], closing: threading.Event,
                    sweep_seconds: float, full_seconds: float) -> None:
    """The background thread's life (`IntegrityMonitor.start_background`). It holds its
    monitor only weakly between rounds: an application dropped without being closed (a
    test's) takes its thread with it."""
    next_full = time.monotonic() + min(full_seconds, FIRST_FULL_DELAY) if full_seconds > 0 else math.inf
    tick = sweep_seconds if sweep_seconds > 0 else POLL_SECONDS
    reader = None
    try:
        while not closing.is_set():
            monitor = ref()
            if monitor is None:
                return
            try:
                if monitor._started:  # (a request starts the monitor up)
                    reader = reader or monitor._open_reader()
                    if sweep_seconds > 0:
                        monitor.sweep(pause=SWEEP_PAUSE, stop=closing, reader=reader)
                    if time.monotonic() >= next_full or monitor.locate_requested:
                        next_full = time.monotonic() + monitor._full_if_free(full_seconds, reader)
            except Exception as e:  # noqa: BLE001 - a check that could not run is no fault
                if closing.is_set():
                    return
                log.warning("integrity check could not run: %s: %s", type(e).__name__, e)
            del monitor
            wait = min(tick, max(0.0, next_full - time.monotonic()))
            if full_seconds > 0 and ref() is not None and ref().locate_requested:  # type: ignore[union-attr]
                wait = 0.0
            if closing.wait(max(0.05, wait)):
                return
    finally:
        if reader is not None:
            reader.close()


# Faults that say only that something behind the verified position changed, not where.
_LOCATE_AT_ONCE = frozenset({"remembered-hash-mismatch"})


def _links_hold(rows: Sequence[ChainRow], lo: int, hi: int, previous: bytes) -> bool:
    """Every position lo..hi present, its stored event the one the chain row names, and its
    stored chain hash recomputed from the one before, its bytes and its signature (the
    chain's definition, ledger.hashing). A cheap look: check_rows judges where it fails."""
    expected = lo
    try:
        for position, _, oid, version, _, signature, stored, e_oid, e_ver, topic, state in rows:
            if position != expected or state is None or e_oid != oid or e_ver != version:
                return False
            if chain_hash(previous, record_hash(e_oid, e_ver, topic, state), signature) != stored:
                return False
            previous, expected = stored, expected + 1
    except (TypeError, ValueError, AttributeError):  # a malformed row: check_rows says so
        return False
    return expected == hi + 1


def _hex(value: Any) -> str:
    return value.hex()[:16] + "..." if isinstance(value, (bytes, bytearray)) else repr(value)


def _as_fault(entry: Any) -> Fault:
    """An entry of `app.integrity_faults` as a Fault (it should be one already)."""
    if isinstance(entry, Fault):
        return entry
    get = entry.get if isinstance(entry, dict) else lambda name, default=None: getattr(entry, name, default)
    position = get("position")
    return Fault(position if isinstance(position, int) else None, get("originator_id"),
                 get("version"), str(get("kind", "fault")), str(get("detail", entry)))


def settings(environ: Any, config: Any = None) -> dict[str, float]:
    """The background thread's settings: the web app's INTEGRITY_SWEEP_SECONDS and
    INTEGRITY_FULL_VERIFY_SECONDS where set, else $PMO_LEDGER_INTEGRITY_SWEEP_SECONDS and
    $PMO_LEDGER_FULL_VERIFY_SECONDS, else the defaults (5 s; daily)."""
    config = config or {}

    def pick(key: str, env: str, default: float) -> float:
        value = config.get(key)
        if value is None:
            value = environ.get(env) or default
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            raise LedgerError(f"{key} / ${env} must be a number of seconds, not {value!r}") from None

    return {"sweep_seconds": pick("INTEGRITY_SWEEP_SECONDS", SWEEP_ENV, DEFAULT_SWEEP_SECONDS),
            "full_seconds": pick("INTEGRITY_FULL_VERIFY_SECONDS", FULL_VERIFY_ENV,
                                 DEFAULT_FULL_VERIFY_SECONDS)}
