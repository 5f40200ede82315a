"""The ledger projection: folds a batch of log positions into read-model rows.

It keeps, in memory, the aggregates it has folded so far (projects and the policy) and the
key timeline; all of it is a cache of what the log says up to the tracked position, and
is dropped (`reset`) whenever that position moved behind its back or a batch failed.
A missing project is reloaded with `repository.get(id, version=v)`, which starts from the
nearest snapshot, so a restarted process resumes without re-reading the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from domain.policy import DEFAULT_RULES, POLICY_ID, Policy, Rules
from domain.project import Project
from domain.readmodels import derive
from domain.readmodels.store import (
    ReadModelError,
    ReadStore,
    Writer,
    date_text,
    instant_text,
    money_text,
)
from domain.readmodels.views import LineBudget, MilestonePlan, ProjectFacts, QueueItem
from ledger.keyring import KEY_TOPICS
from ledger.rows import ChainRow
from ledger.verify import DatabaseSource, KeyTimeline, build_timeline

PROJECT_TOPIC = "domain.project:Project."
POLICY_TOPIC = "domain.policy:Policy."
MISSING_EVENT = "(missing or unreadable)"  # the event column of a position that does not decode
# Projects kept folded in memory; others are reloaded from their snapshots when next seen.
CACHED_PROJECTS = 256


class Item(NamedTuple):
    """One log position: its chain row and the decoded event (None if it does not decode)."""

    row: ChainRow
    event: Any


@dataclass
class Batch:
    """The rows one batch produces, written in one transaction with its tracking row."""

    events: list[tuple] = field(default_factory=list)
    audit: list[tuple] = field(default_factory=list)
    approvals: list[tuple] = field(default_factory=list)
    progress: list[tuple] = field(default_factory=list)
    spend: list[tuple] = field(default_factory=list)
    policy: list[tuple] = field(default_factory=list)
    # Replaced per project / per queued item: the last state in the batch wins.
    touched: dict[str, tuple[Project, int]] = field(default_factory=dict)
    # (project, collection, item) -> the last act on it in the batch, and its position
    queue: dict[tuple[str, str, str], tuple[Any, int]] = field(default_factory=dict)
    queue_rows: list[tuple] = field(default_factory=list)


class LedgerProjection:
    """Every read model, maintained from the log under the tracking name `name`."""

    name = "pmo_readmodels"

    def __init__(self, app: Any, store: ReadStore) -> None:
        self.app = app
        self.store = store
        self.at = 0  # the notification id the in-memory caches are consistent with
        self.projects: dict[UUID, Project] = {}
        self.policy: Policy | None = None
        self.timeline: KeyTimeline | None = None
        self._latest_rules: tuple[int, Rules] | None = None

    def reset(self, *, hard: bool = False) -> None:
        """Forget the caches (they are only ever reloaded from the log)."""
        self.at = 0
        self.projects.clear()
        self.policy = None
        self.timeline = None

    # Folding a batch --------------------------------------------------------------------

    def process(self, start: int, items: list[Item], replay: Any = None) -> Batch:
        """The rows for `items`: the positions after `start`, the tracked one."""
        batch = Batch()
        self._ensure_timeline(items)
        for item in items:
            self._one(item, batch)
        self._queue(batch)
        return batch

    def _queue(self, batch: Batch) -> None:
        """Each acted-on item's queue rows, judged by the rules in force at its last act."""
        for (code, coll, key), (event, position) in batch.queue.items():
            project = batch.touched[code][0]
            batch.queue_rows += [queue_row(q) for q in derive.queue_items(
                project, coll, key, self.rules_at(event), position)]

    def _one(self, item: Item, batch: Batch) -> None:
        row, event = item
        status = key_status(self.timeline, row)  # type: ignore[arg-type]
        if event is None:
            batch.events.append(_event_row(row, None, None, status, ""))
            return
        topic = row.topic or ""
        code, at = None, instant_text(event.timestamp)
        if topic.startswith(PROJECT_TOPIC):
            code = self._project_event(row, event, status, at, batch)
        elif topic.startswith(POLICY_TOPIC):
            self._policy_event(row, event, batch)
        batch.events.append(_event_row(row, event, code, status, at))

    def _project_event(self, row: ChainRow, event: Any, status: str, at: str, batch: Batch) -> str:
        try:
            before = self._project(event)
            touched, named = derive.subjects(before, event)
            old = [derive.snapshot(before, s) for s in touched]
            project = event.mutate(before)
        except Exception as e:
            # A hole or a forgery in the project's history: the figures would be wrong
            # from here on, so stop and say where rather than skip it.
            raise ReadModelError(
                f"position {row.position} ({type(event).__name__}, version "
                f"{event.originator_version}) does not apply to its project's history ({e}); "
                "run `pmo-ledger verify`") from e
        self._keep(project)
        position, code = row.position, project.code
        for i, (subject, was) in enumerate(zip(touched, old, strict=True)):
            changed = derive.changes(was, derive.current(project, subject))
            if changed:
                batch.audit.append((code, derive.item_path(subject), position, derive.changes_json(changed)))
            # Queues change only by an act on the item itself (approvals grow in place,
            # so "changed" would miss a first of two approvals); worked out at the end
            # of the batch, from the item as its last act there left it.
            if i < named and subject[0] in derive.QUEUED:
                batch.queue[(code, subject[0], subject[1])] = (event, position)  # type: ignore[index]
        self._facts(row, event, project, at, status, batch)
        batch.touched[code] = (project, position)
        return code

    def _facts(self, row: ChainRow, event: Any, project: Project, at: str, status: str,
               batch: Batch) -> None:
        """The append-only rows: approvals, progress reports and actual-cost movements."""
        d, position, code = event.__dict__, row.position, project.code
        approval = derive.approval_record(event)
        if approval is not None:
            batch.approvals.append((
                position, code, *approval, d.get("role"), d["actor_id"], d["actor_name"],
                d["meaning"], d.get("reason") or None, derive.conditions_text(event), at, status))
        name = type(event).__name__
        if name == "ProgressReported":
            batch.progress.append((position, code, d["milestone"], d["as_of"].isoformat(),
                                   d["percent"], at))
        elif name in ("ExpenditureApproved", "ExpenditureReversed"):
            if name == "ExpenditureApproved" and not d["completes_approval"]:
                return
            e = project.expenditures[d["expenditure_id"]]
            amount = e["amount"] if name == "ExpenditureApproved" else -e["amount"]
            batch.spend.append((position, code, d["expenditure_id"], e["line"],
                                e["invoice_date"].isoformat(), str(amount), at))

    def _keep(self, project: Project) -> None:
        """Cache the project, most recently used last; drop the least recent over the cap."""
        self.projects.pop(project.id, None)
        self.projects[project.id] = project
        if len(self.projects) > CACHED_PROJECTS:
            del self.projects[next(iter(self.projects))]

    def _project(self, event: Any) -> Project | None:
        """The project just before `event`: cached, or replayed from its snapshots."""
        wanted = event.originator_version - 1
        if wanted == 0:
            return None
        cached = self.projects.get(event.originator_id)
        if cached is not None and cached.version == wanted:
            return cached
        return self.app.repository.get(event.originator_id, version=wanted)

    def _policy_event(self, row: ChainRow, event: Any, batch: Batch) -> None:
        before = self._policy_at(event.originator_version - 1)
        self.policy = event.mutate(before)
        latest = self.policy.history[-1]
        rules = self.app.mapper.transcoder.encode(latest["rules"]).decode()
        batch.policy.append((row.position, self.policy.version,
                             instant_text(latest["effective_from"]), rules))

    def _policy_at(self, version: int) -> Policy | None:
        if version == 0:
            return None
        if self.policy is not None and self.policy.version == version:
            return self.policy
        return self.app.repository.get(POLICY_ID, version=version)

    def rules_at(self, event: Any) -> Rules:
        """The rules in force when `event` was recorded."""
        if self.policy is None:
            rows = self.store.fetch("SELECT MAX(version) FROM {policy}")
            if rows and rows[0][0]:
                self.policy = self._policy_at(int(rows[0][0]))
        if self.policy is None:
            return Rules(**DEFAULT_RULES)
        latest = self.policy.history[-1]
        if event.timestamp < latest["effective_from"]:
            return self.policy.rules(event.timestamp)
        # Nearly always the latest version: built once per policy version.
        if self._latest_rules is None or self._latest_rules[0] != self.policy.version:
            self._latest_rules = (self.policy.version, Rules(**latest["rules"]))
        return self._latest_rules[1]

    # Keys ---------------------------------------------------------------------------------

    def _ensure_timeline(self, items: list[Item]) -> None:
        """(Re)build the key timeline when a batch holds key events or unknown keys; a
        key's status at a position depends only on key events before it, so a timeline
        read later gives the same answers for earlier positions."""
        known = self.timeline.keys if self.timeline is not None else {}
        if self.timeline is None or any(
                i.row.topic in KEY_TOPICS or i.row.key_id not in known for i in items):
            self.timeline, _ = build_timeline(DatabaseSource(self.app).key_rows())

    # Writing ------------------------------------------------------------------------------

    def write(self, w: Writer, batch: Batch) -> None:
        # In key order: a B-tree takes a sorted run far faster than scattered keys.
        batch.audit.sort()
        for table in ("events", "audit", "approvals", "progress", "spend", "policy"):
            w.insert(table, getattr(batch, table))
        self._write_projects(w, batch)
        self._write_queue(w, batch)

    @staticmethod
    def _write_projects(w: Writer, batch: Batch) -> None:
        codes = [(code,) for code in batch.touched]
        for table in ("projects", "lines", "milestones"):
            w.run_many(f"DELETE FROM {{{table}}} WHERE project = ?", codes)
        facts, lines, milestones = [], [], []
        for project, position in batch.touched.values():
            facts.append(facts_row(derive.project_facts(project, position)))
            lines.extend(line_row(x) for x in derive.line_budgets(project))
            milestones.extend(milestone_row(x) for x in derive.milestone_plans(project))
        w.insert("projects", facts)
        w.insert("lines", lines)
        w.insert("milestones", milestones)

    @staticmethod
    def _write_queue(w: Writer, batch: Batch) -> None:
        keys = [(code, derive.KINDS_QUEUE[coll], key) for code, coll, key in batch.queue]
        w.run_many("DELETE FROM {queue} WHERE project = ? AND kind = ? AND item = ?", keys)
        w.insert("queue", batch.queue_rows)


# Rows -------------------------------------------------------------------------------------


def key_status(timeline: KeyTimeline, row: ChainRow) -> str:
    """The signing key's standing at this position, as `ledger.verify` judges it (valid
    from the position after its registration -- its own for the root key -- until its
    revocation). The Ed25519 check itself is `pmo-ledger verify`'s work."""
    k = timeline.keys.get(row.key_id)
    if k is None or row.position < k.valid_from:
        return "unknown-key"
    if k.revoked_at is not None and row.position > k.revoked_at:
        return "revoked-key"
    return "valid"


def _event_row(row: ChainRow, event: Any, code: str | None, status: str, at: str) -> tuple:
    if event is None:
        return (row.position, row.notification_id, row.originator_id, row.originator_version,
                MISSING_EVENT, None, None, None, None, None, at, row.key_id, status)
    d = event.__dict__
    return (row.position, row.notification_id, row.originator_id, row.originator_version,
            type(event).__name__, code, d.get("actor_id"), d.get("actor_name"),
            d.get("meaning"), d.get("reason") or None, at, row.key_id, status)


def facts_row(f: ProjectFacts) -> tuple:
    return (f.project, f.project_id, f.title, f.currency, f.status, f.next_gate,
            f.next_gate_status, f.sponsor, f.project_manager, date_text(f.start_date),
            date_text(f.target_finish), money_text(f.original), money_text(f.budget),
            money_text(f.committed), money_text(f.spent), money_text(f.pending),
            money_text(f.available), money_text(f.bac), f.last_report,
            date_text(f.last_report_end), f.last_report_overall,
            instant_text(f.last_report_at) if f.last_report_at else None, f.version, f.position)


def line_row(x: LineBudget) -> tuple:
    return (x.project, x.line, x.name, x.category, *(money_text(getattr(x, k)) for k in (
        "original", "transferred", "cr_adjusted", "current", "committed", "spent", "pending",
        "available")))


def milestone_row(x: MilestonePlan) -> tuple:
    return (x.project, x.milestone, x.name, date_text(x.planned_start),
            date_text(x.planned_finish), money_text(x.budgeted_value), x.percent,
            date_text(x.percent_as_of), int(x.accepted))


def queue_row(q: QueueItem) -> tuple:
    return (q.project, q.kind, q.item, q.role, q.summary, money_text(q.amount), q.submitted_by,
            instant_text(q.submitted_at) if q.submitted_at else None, q.approvals, q.position)
