"""Verification from the auditor's console: a run in a background thread of the server,
whose progress a page polls (a refreshing page without JavaScript; a JSON endpoint for a
progress bar with it).

Runs are kept in a small side table of the ledger's database (`pmo_verify_runs`), not in
process memory: under `serve --workers N` the page that polls a run usually reaches
another worker than the one running it. A run whose process died (its progress has not
moved for `STALE_SECONDS`) is reported as stopped rather than left "in progress" forever.
It is not a ledger fact (nobody signs it), so it is not in the event log.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import PersistenceError
from flask import Flask

from ledger.verify import verify_database
from web.ledger_access import get_pmo

TABLE = "pmo_verify_runs"
KEEP_SECONDS = 7 * 24 * 3600  # finished runs kept this long for their result pages
STALE_SECONDS = 120.0  # an unfinished run whose progress has not moved for this long died
WRITE_EVERY = 0.5  # seconds between progress writes
_READY_KEY = "pmo_verify_runs_ready"
COLUMNS = "id, started_by, started, updated, done, total, finished, report, error"


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

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "done": self.done, "total": self.total, "percent": self.percent,
                "finished": self.finished, "ok": None if self.report is None else self.report["ok"],
                "error": self.error}


class RunStore:
    """Verification runs in the ledger database's side table (`recorder.execute/fetch`)."""

    def __init__(self, pmo: Any) -> None:
        self.recorder = pmo.recorder
        self.table = f"{getattr(self.recorder, 'schema_prefix', '')}{TABLE}"

    def ensure_table(self) -> None:
        for attempt in range(3):
            try:
                self.recorder.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} (id TEXT PRIMARY KEY, "
                    "started_by TEXT NOT NULL, started DOUBLE PRECISION NOT NULL, "
                    "updated DOUBLE PRECISION NOT NULL, done BIGINT NOT NULL, total BIGINT NOT NULL, "
                    "finished INTEGER NOT NULL, report TEXT, error TEXT)")
                return
            except PersistenceError:  # two PostgreSQL sessions creating it at once
                if attempt == 2:
                    raise

    def add(self, run: Run) -> None:
        self.recorder.execute(f"DELETE FROM {self.table} WHERE finished = 1 AND updated < ?",
                              (time.time() - KEEP_SECONDS,))
        self.recorder.execute(f"INSERT INTO {self.table} ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                              (run.id, run.started_by, run.started, run.updated, run.done, run.total,
                               0, None, None))

    def save(self, run: Run) -> None:
        run.updated = time.time()
        report = None if run.report is None else json.dumps(run.report, default=str)
        self.recorder.execute(
            f"UPDATE {self.table} SET updated = ?, done = ?, total = ?, finished = ?, report = ?, "
            "error = ? WHERE id = ?",
            (run.updated, run.done, run.total, int(run.finished), report, run.error, run.id))

    def get(self, run_id: str) -> Run | None:
        rows = self.recorder.fetch(f"SELECT {COLUMNS} FROM {self.table} WHERE id = ?", (run_id,))
        if not rows:
            return None
        rid, by, started, updated, done, total, finished, report, error = rows[0]
        run = Run(str(rid), str(by), float(started), float(updated), int(done), int(total),
                  bool(finished), None if report is None else json.loads(report), error)
        if not run.finished and _now() - run.updated > STALE_SECONDS:
            run.finished = True
            run.error = "the server process running it stopped before it finished; run it again"
        return run


def _now() -> float:
    return time.time()


def _store(app: Flask) -> RunStore:
    store = RunStore(get_pmo(app))
    if not app.extensions.get(_READY_KEY):
        store.ensure_table()
        app.extensions[_READY_KEY] = True
    return store


def start(app: Flask, username: str) -> Run:
    store = _store(app)
    pmo = get_pmo(app)
    workers = app.config.get("VERIFY_WORKERS") or 1
    run = Run(uuid.uuid4().hex[:12], username, total=pmo.size())
    store.add(run)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        run.done, run.total = done, total
        if time.monotonic() - last[0] >= WRITE_EVERY:  # not a write per range
            last[0] = time.monotonic()
            store.save(run)

    def work() -> None:
        try:
            report = verify_database(pmo, workers=workers, progress=progress)
            run.report = report.as_dict()
        except Exception as e:  # noqa: BLE001 - shown on the result page
            run.error = f"{type(e).__name__}: {e}"
        finally:
            run.finished = True
            store.save(run)

    threading.Thread(target=work, name=f"verify-{run.id}", daemon=True).start()
    return run


def get(app: Flask, run_id: str) -> Run | None:
    return _store(app).get(run_id)
