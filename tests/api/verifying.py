"""Asking the API for a verification report: GET /api/v1/ledger/verify answers 202 (a run in
the background, started or joined) until the run for the current head is done, then 200
with its report (web/verify_jobs.py)."""

from __future__ import annotations

import time
from typing import Any


def verification(client: Any, headers: dict[str, str], timeout: float = 60.0) -> Any:
    """The 200 answer of GET /api/v1/ledger/verify, asked again while it answers 202."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/api/v1/ledger/verify", headers=headers)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)
