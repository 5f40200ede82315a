"""The one cache of aggregates: commands and pages alike start from the copy last used.

Replaying a project is most of what a command or a page costs (thousands of events
decoded and applied). Each thread keeps the aggregates it last used and brings them
forward by the events recorded since (one indexed read, usually returning nothing or a
handful), exactly as a replay applies them: the log is append-only, so the state at
version N never changes, and the events after N are read on every call -- a user sees
their own write at once, and another process's writes too.

Per thread, not per process: a cached aggregate is brought forward in place, which must
never happen while another thread reads it. A command `take`s an aggregate (it is the
command's alone until it `keep`s it back, saved); a page `read`s one and must not change
it. An aggregate with unsaved events is never kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate


class AggregateCache:
    """The latest aggregates of one application, per thread."""

    def __init__(self, app: Any, *, size: int = 256) -> None:
        self.app = app
        self.size = size
        self._local = threading.local()

    def _entries(self) -> dict[UUID, Aggregate]:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = {}
        return entries

    def bring_forward(self, aggregate: Aggregate) -> Aggregate:
        """`aggregate` with the events recorded after its version applied, in order, as a
        replay applies them (each checks it is the next version)."""
        for event in self.app.repository.event_store.get(aggregate.id, gt=aggregate.version):
            aggregate = event.mutate(aggregate)
        return aggregate

    def take(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate as stored now (None if it does not exist), the caller's own until
        it keeps it: the cached copy brought up to date, or a fresh load."""
        aggregate = self._entries().pop(aggregate_id, None)
        if aggregate is not None:
            return self.bring_forward(aggregate)
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def keep(self, *aggregates: Aggregate) -> None:
        """Leave aggregates for the next command or page (only as they are stored)."""
        entries = self._entries()
        for aggregate in aggregates:
            entries.pop(aggregate.id, None)
            if not aggregate.pending_events:
                entries[aggregate.id] = aggregate
        while len(entries) > self.size:
            del entries[next(iter(entries))]  # the least recently used

    def read(self, aggregate_id: UUID, load: Callable[[], Aggregate]) -> Aggregate:
        """The aggregate as stored now, for reading only; `load()` when none is cached.
        Taken out while it is brought forward: should that fail half-way (the database
        gone), the half-applied copy is not kept."""
        entries = self._entries()
        cached = entries.pop(aggregate_id, None)
        aggregate = load() if cached is None else self.bring_forward(cached)
        self.keep(aggregate)
        return aggregate
