"""The field-level audit trail of a project, worked out from its events when asked for.

Diffing every field of every event is most of what materialising it in the projection
cost (about half a rebuild), while a trail is read a project at a time. So it is derived
here, on demand, from the project's own events (the library's event store, in version
order) and the event index the projection keeps (who, when, why, key status, and the
position of each version): each event is applied to the project as it stood before it,
and the fields of the items it touched are compared before and after (derive.py), the
same comparison the projection used to write.

Each process keeps the trails of its most recently asked-for projects, with the project
as their last event left it; a later question folds on only the events recorded since, so
a user sees their own write at once and a long project is folded once per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.project import Project, project_id
from domain.readmodels import derive
from domain.readmodels.store import ReadModelError, ReadStore, parse_instant
from domain.readmodels.views import AuditEntry

CACHED_TRAILS = 16

# (position, item such as `lines.HW-01`, [[field, old, new], ...] sorted by field)
Change = tuple[int, str, list[list[str | None]]]


@dataclass
class Trail:
    """One project's changes up to `version`, and the event index rows they cite."""

    code: str
    version: int = 0
    project: Project | None = None
    changes: list[Change] = field(default_factory=list)
    # position -> (event, actor_id, actor_name, recorded_at, reason, key_id, key_status)
    acts: dict[int, tuple] = field(default_factory=dict)

    def entries(self, wanted: str | None) -> list[AuditEntry]:
        """Every change, or those of one field or of the fields under a prefix."""
        out = []
        prefix = f"{wanted}." if wanted else ""
        for position, item, changed in self.changes:
            for name, old, new in changed:
                path = f"{item}.{name}"
                if not wanted or path == wanted or path.startswith(prefix):
                    event, actor_id, actor_name, at, reason, key_id, status = self.acts[position]
                    out.append(AuditEntry(position, self.code, path, old, new, event, actor_id,
                                          actor_name, parse_instant(at), reason, key_id, status))
        return sorted(out, key=lambda a: (a.position, a.field))

    def items(self) -> list[str]:
        return sorted({item for _, item, _ in self.changes})


class AuditTrails:
    """The audit trails of one ledger's projects, folded on demand and cached."""

    def __init__(self, app: Any, store: ReadStore, cached: int = CACHED_TRAILS) -> None:
        self.app = app
        self.store = store
        self.cached = cached
        self._trails: dict[UUID, Trail] = {}
        self._lock = threading.Lock()  # one fold at a time per process

    def clear(self) -> None:
        with self._lock:
            self._trails.clear()

    def trail(self, code: str) -> Trail:
        """`code`'s trail up to what the event index holds (the caller caught it up)."""
        pid = project_id(code)
        with self._lock:
            # Taken out while folding: a fold that fails half-way is not kept.
            trail = self._trails.pop(pid, None) or Trail(code)
            self._extend(pid, trail)
            self._trails[pid] = trail  # most recently used last
            if len(self._trails) > self.cached:
                del self._trails[next(iter(self._trails))]
            return trail

    def _extend(self, pid: UUID, trail: Trail) -> None:
        rows = self.store.fetch(
            "SELECT version, position, event, actor_id, actor_name, recorded_at, reason, key_id, "
            "key_status FROM {events} WHERE project = ? AND version > ? ORDER BY version",
            (trail.code, trail.version))
        if not rows:
            return
        events = self.app.events.get(pid, gt=trail.version, lte=int(rows[-1][0]))
        for row, event in zip(rows, events, strict=False):
            version, position = int(row[0]), int(row[1])
            if event.originator_version != version or version != trail.version + 1:
                raise ReadModelError(
                    f"project {trail.code}'s version {trail.version + 1} is not in the log as "
                    "the read models index it; run `pmo-ledger verify`")
            trail.acts[position] = tuple(row[2:])
            self._fold(trail, position, event)
        if trail.version != int(rows[-1][0]):
            raise ReadModelError(f"project {trail.code}'s events end at version "
                                 f"{trail.version}; run `pmo-ledger verify`")

    @staticmethod
    def _fold(trail: Trail, position: int, event: Any) -> None:
        """Apply one event and note the fields of the items it touched that changed."""
        before = trail.project
        touched, _ = derive.subjects(before, event)
        old = [derive.snapshot(before, s) for s in touched]
        project = event.mutate(before)
        for subject, was in zip(touched, old, strict=True):
            changed = derive.changes(was, derive.current(project, subject))
            if changed:
                trail.changes.append((position, derive.item_path(subject), changed))
        trail.project, trail.version = project, event.originator_version
