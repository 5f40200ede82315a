"""Verification from the auditor's console: a run whose progress a page polls (a refreshing
page without JavaScript; a JSON endpoint for a progress bar with it).

The runs are the API's (`web.verify_jobs`): one verification at a time, in a background
thread of the server, kept in a side table so that every worker sees it. "Run
verification" joins the run in progress if there is one; otherwise it starts a new one,
even when a result for the current head is cached (the API answers that one instead).
"""

from __future__ import annotations

from flask import Flask

from web import verify_jobs
from web.verify_jobs import STALE_SECONDS, Run, RunStore

__all__ = ["STALE_SECONDS", "Run", "RunStore", "get", "start"]


def _now() -> float:
    return verify_jobs._now()


def _store(app: Flask) -> RunStore:
    return verify_jobs.store(app)


def start(app: Flask, username: str) -> Run:
    """The run the auditor's "Run verification" button leads to."""
    return verify_jobs.request(app, started_by=username, starter=f"page:{username}", fresh=True)


def get(app: Flask, run_id: str) -> Run | None:
    return verify_jobs.get(app, run_id, now=_now())
