"""Projects and the directory as the pages and API reads show them, without replaying
every event of a project on every request.

Replaying a project is most of what a page costs (thousands of events decoded and applied:
10-20 ms for a busy project). Here each server thread keeps the aggregates it last showed
and brings them forward by the events recorded since (one indexed read, usually returning
nothing or a handful of events), exactly as a replay would apply them: the log is
append-only, so the state at version N never changes, and the events after N are read
from the database on every call -- a user sees their own write at once, and another
process's writes too.

Per thread, not per process: the cached aggregate is fast-forwarded in place, which must
never happen while another request is reading it, and a server thread serves one request
at a time. What `project(code)` and `directory()` return is for reading only: it is the
thread's cached copy (commands load their own through `domain.services`). The cache holds
no per-user data (only aggregates, which every reader is then checked against as before).
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from domain.directory import DIRECTORY_ID, Directory
from domain.project import Project, project_id
from domain.services import PMOApplication

# Bounds one thread's cache; a ledger has tens of projects, so this is rarely reached.
MAX_PER_THREAD = 256


class AggregateCache:
    """The latest aggregates one PMOApplication has shown, per thread of the process."""

    def __init__(self, pmo: PMOApplication) -> None:
        self.pmo = pmo
        self._local = threading.local()

    def project(self, code: str) -> Project:
        """The project as it stands now (NotFoundError when there is none)."""
        return self._get(project_id(code), lambda: self.pmo.project(code))  # type: ignore[return-value]

    def directory(self) -> Directory:
        """The directory as it stands now."""
        return self._get(DIRECTORY_ID, self.pmo.directory)  # type: ignore[return-value]

    def _entries(self) -> dict[UUID, Any]:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = {}
        return entries

    def _get(self, aggregate_id: UUID, load: Any) -> Any:
        entries = self._entries()
        # Taken out while it is brought forward: should that fail half-way (the database
        # gone), the half-applied aggregate is not kept; the next call replays it.
        cached = entries.pop(aggregate_id, None)
        cached = load() if cached is None else self.pmo.bring_forward(cached)
        if len(entries) >= MAX_PER_THREAD:
            entries.pop(next(iter(entries)))  # the least recently used
        entries[aggregate_id] = cached
        return cached
