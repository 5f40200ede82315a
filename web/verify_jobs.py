"""On-demand verification as background jobs, one at a time: what the auditor's page
(/audit/verify, web/pages/verification.py) and the API (GET /api/v1/ledger/verify) share.

A verification (`ledger.verify.verify_database`: every signature, chain link and checkpoint,
then every stored snapshot re-derived) takes seconds, mostly holding the GIL: run on request
threads, eight at once made a plain budget read wait 40 s. So it never runs on a request
thread. `request()` answers a request with a run:

- a run in progress for the current ledger head (log size and chain head hash): that run,
  joined (the page polls it; the API answers 202 with its progress);
- else (unless `fresh`) a finished run for the current head, no older than
  VERIFY_CACHE_SECONDS: that run, its report answered from cache;
- else a run in progress for another head: that run; one verification at a time;
- else a new run, in a background thread with a ledger application of its own (closing the
  server's never pulls a connection from under it); `TooSoon` if the requester's `starter`
  key (the API: its bearer token) started one less than `interval` seconds ago.

Runs live in a side table of the ledger's database (`pmo_verify_jobs`), not in process
memory: under `serve --workers N` the request that polls a run usually reaches another
worker than the one running it, and the one-at-a-time rule holds across workers through the
table's unique `slot` (held by the run in progress; an insert that finds it taken joins the
holder). A run whose progress has not moved for STALE_SECONDS (its process died) is reported
as stopped, and its slot freed. Runs are not ledger facts (nobody signs them): not in the log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from web.ledger_access import get_pmo

log = logging.getLogger(__name__)

TABLE = "pmo_verify_jobs"
KEEP_SECONDS = 7 * 24 * 3600  # finished runs kept this long for their result pages
STALE_SECONDS = 120.0  # an unfinished run whose progress has not moved for this long died
WRITE_EVERY = 0.5  # seconds between progress writes
HEARTBEAT_SECONDS = 10.0  # a run says it is alive at least this often, progress or not
CACHE_SECONDS = 3600  # default VERIFY_CACHE_SECONDS: a report for the current head is reused
START_INTERVAL = 60  # default VERIFY_START_INTERVAL: seconds between new runs per API token
RUNNING = "running"
_READY_KEY = "pmo_verify_jobs_ready"
_LOCK = threading.Lock()  # one decision at a time in this process (the table decides across)
COLUMNS = ("id, started_by, starter, size, head, started, updated, done, total, finished, "
           "report, error")


@dataclass
class Run:
    id: str
    started_by: str
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    finished: bool = False
    report: dict[str, Any] | None = None
    error: str | None = None
    size: int = 0  # the log's size (head position) when the run was asked for
    head: str = ""  # the chain head hash there (hex)
    starter: str = ""  # who started it, for the rate limit (a token's hash, or a person)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def status(self) -> str:
        if not self.finished:
            return "running"
        return "failed" if self.error or self.report is None else "done"

    def as_dict(self) -> dict[str, Any]:
        """The page's progress JSON (/audit/verify/<id>?format=json)."""
        return {"id": self.id, "done": self.done, "total": self.total, "percent": self.percent,
                "finished": self.finished, "ok": None if self.report is None else self.report["ok"],
                "error": self.error}

    def job(self) -> dict[str, Any]:
        """The API's view of the run (web.schemas.VerifyJobSchema)."""
        return {"id": self.id, "status": self.status, "size": self.size, "head": self.head,
                "done": self.done, "total": self.total, "percent": self.percent,
                "started_at": _instant(self.started), "updated_at": _instant(self.updated),
                "ok": None if self.report is None else self.report["ok"], "error": self.error,
                "report": self.report}


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class TooSoon(Exception):
    """The requester started a run less than `interval` seconds ago."""

    def __init__(self, retry_after: float, interval: float) -> None:
        super().__init__(f"a new verification run may be started in {retry_after:.0f} s")
        self.retry_after = retry_after
        self.interval = interval


class RunStore:
    """Verification runs in the ledger database's side table (the side-table adapter, ledger/sidestore.py)."""

    def __init__(self, pmo: Any) -> None:
        self.store = pmo.side_store
        self.table = self.store.table(TABLE)

    def ensure_table(self) -> None:
        """Create the table and its index (idempotent; safe when workers race)."""
        # The one run in progress holds slot 'running'; finished runs hold NULL.
        self.store.create([
            f"CREATE TABLE IF NOT EXISTS {self.table} (id TEXT PRIMARY KEY, "
            "started_by TEXT NOT NULL, starter TEXT NOT NULL, size BIGINT NOT NULL, "
            "head TEXT NOT NULL, started DOUBLE PRECISION NOT NULL, "
            "updated DOUBLE PRECISION NOT NULL, done BIGINT NOT NULL, total BIGINT NOT NULL, "
            "finished INTEGER NOT NULL, report TEXT, error TEXT, slot TEXT)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_slot ON {self.table} (slot)",
        ])

    def add(self, run: Run) -> bool:
        """Insert `run` holding the slot of the run in progress; False (and nothing
        inserted) when another run holds it."""
        now = _now()
        self.store.execute(f"DELETE FROM {self.table} WHERE finished = 1 AND updated < ?",
                              (now - KEEP_SECONDS,))
        self.store.execute(  # a holder that died frees the slot
            f"UPDATE {self.table} SET slot = NULL, finished = 1, error = ? "
            "WHERE slot = ? AND updated < ?", (_STOPPED, RUNNING, now - STALE_SECONDS))
        self.store.execute(
            f"INSERT INTO {self.table} ({COLUMNS}, slot) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (run.id, run.started_by, run.starter, run.size, run.head, run.started, run.updated,
             run.done, run.total, 0, None, None, RUNNING))
        return bool(self.store.fetch(
            f"SELECT 1 FROM {self.table} WHERE id = ? AND slot = ?", (run.id, RUNNING)))

    def save(self, run: Run) -> None:
        run.updated = _now()
        report = None if run.report is None else json.dumps(run.report, default=str)
        self.store.execute(
            f"UPDATE {self.table} SET updated = ?, done = ?, total = ?, finished = ?, report = ?, "
            "error = ?, size = ?, head = ?, slot = ? WHERE id = ?",
            (run.updated, run.done, run.total, int(run.finished), report, run.error, run.size,
             run.head, None if run.finished else RUNNING, run.id))

    def touch(self, run_id: str) -> None:
        self.store.execute(f"UPDATE {self.table} SET updated = ? WHERE id = ? AND finished = 0",
                              (_now(), run_id))

    def get(self, run_id: str, now: float | None = None) -> Run | None:
        return self._one("WHERE id = ?", (run_id,), now)

    def running(self, now: float | None = None) -> Run | None:
        """The run in progress (one that died is reported stopped: None)."""
        run = self._one("WHERE slot = ?", (RUNNING,), now)
        return None if run is None or run.finished else run

    def for_head(self, size: int, head: str, now: float | None = None) -> Run | None:
        """The newest run of this head."""
        return self._one("WHERE size = ? AND head = ? ORDER BY started DESC",
                         (size, head), now)

    def last_started(self, starter: str) -> float | None:
        rows = self.store.fetch(f"SELECT MAX(started) FROM {self.table} WHERE starter = ?",
                                   (starter,))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def _one(self, where: str, params: tuple[Any, ...], now: float | None) -> Run | None:
        rows = self.store.fetch(f"SELECT {COLUMNS} FROM {self.table} {where} LIMIT 1", params)
        if not rows:
            return None
        (rid, by, starter, size, head, started, updated, done, total, finished, report,
         error) = rows[0]
        run = Run(str(rid), str(by), float(started), float(updated), int(done), int(total),
                  bool(finished), None if report is None else json.loads(report), error,
                  int(size), str(head), str(starter))
        if not run.finished and (_now() if now is None else now) - run.updated > STALE_SECONDS:
            run.finished = True
            run.error = _STOPPED
        return run


_STOPPED = "the server process running it stopped before it finished; run it again"


def _now() -> float:
    return time.time()


def store(app: Flask) -> RunStore:
    runs = RunStore(get_pmo(app))
    if not app.extensions.get(_READY_KEY):
        runs.ensure_table()
        app.extensions[_READY_KEY] = True
    return runs


def get(app: Flask, run_id: str, now: float | None = None) -> Run | None:
    return store(app).get(run_id, now)


def running(app: Flask) -> Run | None:
    return store(app).running()


def current_head(pmo: Any) -> tuple[int, str]:
    """The log's size and chain head hash (hex): what a run answers for."""
    try:
        size, head = pmo.head()
        return int(size), bytes(head).hex()
    except (TypeError, ValueError):  # a damaged head row: the verification will say what
        return pmo.size(), "unreadable"


def request(app: Flask, *, started_by: str, starter: str, fresh: bool = False,
            interval: float = 0) -> Run:
    """The run answering a request for verification (see the module): joined, cached, or
    started now; TooSoon when it would be started by a `starter` that started one less
    than `interval` seconds ago."""
    pmo = get_pmo(app)
    runs = store(app)
    max_age = float(app.config.get("VERIFY_CACHE_SECONDS", CACHE_SECONDS))
    with _LOCK:
        for _ in range(3):
            size, head = current_head(pmo)
            now = _now()
            same = runs.for_head(size, head)
            if same is not None and not same.finished:
                return same
            if (not fresh and same is not None and same.status == "done"
                    and now - same.updated <= max_age):
                return same
            other = runs.running()
            if other is not None:
                return other
            if interval > 0:
                last = runs.last_started(starter)
                if last is not None and now - last < interval:
                    raise TooSoon(interval - (now - last), interval)
            run = Run(uuid.uuid4().hex[:12], started_by, total=size, size=size, head=head,
                      starter=starter)
            if runs.add(run):
                _launch(app, run)
                return run
            # Another worker took the slot between our look and our insert: join it.
        holder = runs.running()
        if holder is None:
            raise RuntimeError("could not start or join a verification run; try again")
        return holder


def _launch(app: Flask, run: Run) -> None:
    """Run the verification in a thread of this process, through a ledger application of
    its own, writing its progress to the table."""
    pmo = get_pmo(app)
    url, app_class = pmo.backend.url, type(pmo)
    workers = app.config.get("VERIFY_WORKERS") or 1
    closing = getattr(pmo, "closing", None) or threading.Event()

    def work() -> None:
        from ledger.application import open_ledger
        from ledger.verify import verify_database

        reader = beating = None
        alive = threading.Event()
        last = [0.0]
        try:
            reader = open_ledger(url, app_class=app_class)
            runs = RunStore(reader)
            beating = threading.Thread(target=_heartbeat, args=(runs, run.id, alive, closing),
                                       name=f"verify-{run.id}-heartbeat", daemon=True)
            beating.start()

            def progress(done: int, total: int) -> None:
                if closing.is_set():
                    raise _Abandoned("the server closed its ledger")
                run.done, run.total = done, total
                if time.monotonic() - last[0] >= WRITE_EVERY:  # not a write per range
                    last[0] = time.monotonic()
                    runs.save(run)

            def snapshots(done: int, total: int) -> None:
                if closing.is_set():
                    raise _Abandoned("the server closed its ledger")

            report = verify_database(reader, workers=workers, progress=progress,
                                     snapshot_progress=snapshots)
            run.report = report.as_dict()
            _verified_head(reader, run, report.events)
        except Exception as e:  # noqa: BLE001 - said on the run's page and in the API
            run.error = f"{type(e).__name__}: {e}"
        finally:
            alive.set()
            if beating is not None:
                beating.join()  # it writes through the reader: never after the reader closes
            run.finished = True
            try:
                if reader is not None:
                    RunStore(reader).save(run)
            except Exception as e:  # noqa: BLE001 - the database went away meanwhile
                log.warning("verification run %s: its result could not be stored: %s", run.id, e)
            if reader is not None:
                reader.close()

    threading.Thread(target=work, name=f"verify-{run.id}", daemon=True).start()


def _verified_head(reader: Any, run: Run, events: int) -> None:
    """When the log grew while the run verified it, the run answers for the head it did
    verify: the stored chain hash at its last position (as `head()` reads it)."""
    if events <= run.size:
        return
    rows = reader.read_chain(events, events)
    if rows and isinstance(rows[0].chain_hash, (bytes, bytearray, memoryview)):
        run.size, run.head = events, bytes(rows[0].chain_hash).hex()


class _Abandoned(Exception):
    pass


def _heartbeat(runs: RunStore, run_id: str, done: threading.Event, closing: threading.Event) -> None:
    """Keep a long silent phase (the snapshots' re-derivation) from looking like a death."""
    while not done.wait(HEARTBEAT_SECONDS) and not closing.is_set():
        try:
            runs.touch(run_id)
        except Exception:  # noqa: BLE001 - the next one may work; STALE_SECONDS is generous
            continue
