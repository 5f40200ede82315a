"""Verification from the auditor's console: a run in a background thread of the server,
whose progress a page polls (a refreshing page without JavaScript; a JSON endpoint for a
progress bar with it)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from ledger.verify import DatabaseSource, verify_log
from web.ledger_access import get_pmo

_LOCK = threading.Lock()
KEEP = 20  # finished runs kept for their result pages


@dataclass
class Run:
    id: str
    started_by: str
    started: float = field(default_factory=time.time)
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


def _runs(app: Flask) -> dict[str, Run]:
    return app.extensions.setdefault("pmo_verify_runs", {})


def start(app: Flask, username: str) -> Run:
    run = Run(uuid.uuid4().hex[:12], username)
    runs = _runs(app)
    with _LOCK:
        runs[run.id] = run
        for old in list(runs)[:-KEEP]:
            if runs[old].finished:
                del runs[old]
    pmo = get_pmo(app)
    workers = app.config.get("VERIFY_WORKERS") or 1

    def progress(done: int, total: int) -> None:
        run.done, run.total = done, total

    def work() -> None:
        try:
            report = verify_log(DatabaseSource(pmo), workers=workers, progress=progress)
            run.report = report.as_dict()
        except Exception as e:  # noqa: BLE001 - shown on the result page
            run.error = f"{type(e).__name__}: {e}"
        finally:
            run.finished = True

    run.total = pmo.size()
    threading.Thread(target=work, name=f"verify-{run.id}", daemon=True).start()
    return run


def get(app: Flask, run_id: str) -> Run | None:
    return _runs(app).get(run_id)
