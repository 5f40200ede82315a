"""The ledger projection: turns a batch of log positions into read-model rows.

Per position it writes only what the event itself says (who signed what, when, why; an
approval, a progress report, a cost movement). The project state behind the summary,
budget, milestone and queue rows is taken once per batch, for each project the batch
touched, at its last version there: folded on from the project cached in memory when
that is only a few events behind, else `repository.get(id, version=v)`, which starts from
the nearest snapshot. So a rebuild costs about one read and decode of the log plus one
snapshot load per project per batch, whatever the projects' lengths. (The field-level
audit trail is worked out per project when asked for: see audit.py.)

The caches (projects, the policy, the key timeline) hold what the log says up to the
tracked position, and are dropped (`reset`) whenever that position moved behind their
back or a batch failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError

from domain.policy import DEFAULT_RULES, POLICY_ID, Policy, Rules
from domain.project import Project
from domain.readmodels import derive
from domain.readmodels.decode import PayloadReader, payload_date
from domain.readmodels.store import (
    ReadModelError,
    ReadStore,
    Writer,
    date_text,
    instant_text,
    money_text,
    parse_instant,
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
# At most this many of a project's events in one batch are folded onto the cached
# project; more, and loading from the nearest snapshot (one every 100 events) is cheaper.
FOLD_AT_MOST = 100


class Item(NamedTuple):
    """One log position: its chain row and what the projection reads of its event (the
    domain event, or for the ledger projection a decode.Payload; None if unreadable)."""

    row: ChainRow
    event: Any


@dataclass
class Batch:
    """The rows one batch produces, written in one transaction with its tracking row."""

    # From position 1: the tables hold nothing of this projection yet (tracking and rows
    # are written together), so there is nothing to replace.
    fresh: bool = False
    events: list[tuple] = field(default_factory=list)
    approvals: list[tuple] = field(default_factory=list)
    progress: list[tuple] = field(default_factory=list)
    spend: list[tuple] = field(default_factory=list)
    policy: list[tuple] = field(default_factory=list)
    # Replaced per project / per queued item: the last state in the batch wins.
    touched: dict[str, tuple[Project, int]] = field(default_factory=dict)
    # (project, collection, item) -> the last act on it in the batch, and its position
    queue: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    queue_rows: list[tuple] = field(default_factory=list)


class LedgerProjection:
    """Every read model, maintained from the log under the tracking name `name`."""

    name = "pmo_readmodels"
    # Positions another process caught up that the runner folds into our caches rather
    # than dropping them (runner.py `_resync`): `process` only folds state and makes rows.
    resync_at_most = 1000

    def __init__(self, app: Any, store: ReadStore) -> None:
        self.app = app
        self.store = store
        self.decode = PayloadReader(app.mapper)  # what the runner reads positions with
        self.at = 0  # the notification id the in-memory caches are consistent with
        self.projects: dict[str, Project] = {}  # by originator id text
        self.policy: Policy | None = None
        self.timeline: KeyTimeline | None = None
        self._latest_rules: tuple[int, str, Rules] | None = None

    def reset(self, *, hard: bool = False) -> None:
        """Forget the caches (they are only ever reloaded from the log)."""
        self.at = 0
        self.projects.clear()
        self.policy = None
        self.timeline = None

    # A batch ------------------------------------------------------------------------------

    def process(self, start: int, items: list[Item], replay: Any = None) -> Batch:
        """The rows for `items` (Payloads): the positions after `start`, the tracked one."""
        batch = Batch(fresh=start == 0)
        self._ensure_timeline(items)
        states = self._states(items)
        for item in items:
            self._one(item, batch, states)
        self._queue(batch)
        return batch

    def _queue(self, batch: Batch) -> None:
        """Each acted-on item's queue rows, judged by the rules in force at its last act."""
        for (code, coll, key), (at, position) in batch.queue.items():
            project = batch.touched[code][0]
            batch.queue_rows += [queue_row(q) for q in derive.queue_items(
                project, coll, key, self.rules_at(at), position)]

    # Project state at the end of the batch ------------------------------------------------

    def _states(self, items: list[Item]) -> dict[str, Project]:
        """Each project the batch touches (by originator id), as its last event in the
        batch leaves it."""
        runs: dict[str, list[Item]] = {}
        for item in items:
            if (item.row.topic or "").startswith(PROJECT_TOPIC):
                if item.event is None:
                    raise _broken(item, "does not decode")
                runs.setdefault(item.row.event_originator_id, []).append(item)  # type: ignore[arg-type]
        return {oid: self._state(oid, run) for oid, run in runs.items()}

    def _state(self, oid: str, run: list[Item]) -> Project:
        first = run[0].row.event_originator_version or 0
        for k, item in enumerate(run):
            if item.row.event_originator_version != first + k:
                raise _broken(item, "is not the next version of its project")
        cached = self.projects.pop(oid, None)  # put back only once folded without fault
        try:
            if (first == 1 or (cached is not None and cached.version == first - 1)) \
                    and len(run) <= FOLD_AT_MOST:
                project = cached if first > 1 else None
                for item in run:
                    event = self.decode.events(item.row)
                    if event is None:
                        raise ValueError("it does not decode")
                    project = event.mutate(project)
            else:
                last = run[-1].row.event_originator_version
                project = self.app.repository.get(UUID(oid), version=last)
        except (OperationalError, InterfaceError):
            raise  # the database is unreachable: not a fault in the history (a 503)
        except Exception as e:
            # A hole or a forgery in the project's history: the figures would be wrong
            # from here on, so stop and say where rather than skip it.
            raise _broken(run[-1], f"does not apply to its project's history ({e})") from e
        self._keep(oid, project)
        return project

    def _keep(self, oid: str, project: Project) -> None:
        """Cache the project, most recently used last; drop the least recent over the cap."""
        self.projects[oid] = project
        if len(self.projects) > CACHED_PROJECTS:
            del self.projects[next(iter(self.projects))]

    # Per position --------------------------------------------------------------------------

    def _one(self, item: Item, batch: Batch, states: dict[str, Project]) -> None:
        row, payload = item
        status = key_status(self.timeline, row)  # type: ignore[arg-type]
        if payload is None:
            batch.events.append((row.position, row.notification_id, row.originator_id,
                                 row.originator_version, MISSING_EVENT, None, None, None, None,
                                 None, "", row.key_id, status))
            return
        kind, d, at = payload
        code = None
        topic = row.topic
        if topic.startswith(PROJECT_TOPIC):  # type: ignore[union-attr]
            project = states[row.event_originator_id]  # type: ignore[index]
            code = project.code
            try:
                self._project_event(row.position, kind, d, at, project, status, batch)
            except (KeyError, TypeError, ValueError) as e:
                raise _broken(item, f"does not decode ({e!r})") from e
        elif topic.startswith(POLICY_TOPIC):  # type: ignore[union-attr]
            self._policy_event(item, batch)
        batch.events.append((row.position, row.notification_id, row.originator_id,
                             row.originator_version, kind.__name__, code, d.get("actor_id"),
                             d.get("actor_name"), d.get("meaning"), d.get("reason") or None,
                             at, row.key_id, status))

    def _project_event(self, position: int, kind: type, d: dict[str, Any], at: str,
                       project: Project, status: str, batch: Batch) -> None:
        """The append-only rows (approvals, progress reports, actual-cost movements) and
        the queue's acted-on items. `project` is the state at the end of the batch: the
        fields read from it (an expenditure's line, amount, invoice date) never change."""
        code = project.code
        # Queues change only by an act on the item itself (approvals grow in place);
        # worked out at the end of the batch, from the item as its last act left it.
        queued = _QUEUED_ATTRS.get(kind)
        if queued is None:
            queued = _QUEUED_ATTRS[kind] = _queued_attrs(kind)
        for attr, coll in queued:  # none for most acts (risk reassessments...)
            key = d.get(attr)
            if key is not None:
                batch.queue[(code, coll, key)] = (at, position)
        batch.touched[code] = (project, position)
        name = kind.__name__
        if d.get("meaning") in derive.SIGNED_AS_DECISION:
            approval = derive.approval_record(name, d)
            batch.approvals.append((
                position, code, *approval, d.get("role"), d["actor_id"], d["actor_name"],  # type: ignore[misc]
                d["meaning"], d.get("reason") or None, derive.conditions_text(d), at, status))
        if name == "ProgressReported":
            batch.progress.append((position, code, d["milestone"], payload_date(d["as_of"]),
                                   d["percent"], at))
        elif name in ("ExpenditureApproved", "ExpenditureReversed"):
            if name == "ExpenditureApproved" and not d["completes_approval"]:
                return
            e = project.expenditures[d["expenditure_id"]]
            amount = e["amount"] if name == "ExpenditureApproved" else -e["amount"]
            batch.spend.append((position, code, d["expenditure_id"], e["line"],
                                e["invoice_date"].isoformat(), str(amount), at))

    def _policy_event(self, item: Item, batch: Batch) -> None:
        event = self.decode.events(item.row)
        if event is None:
            raise _broken(item, "does not decode")
        before = self._policy_at(event.originator_version - 1)
        self.policy = event.mutate(before)
        latest = self.policy.history[-1]
        rules = self.app.mapper.transcoder.encode(latest["rules"]).decode()
        batch.policy.append((item.row.position, self.policy.version,
                             instant_text(latest["effective_from"]), rules))

    def _policy_at(self, version: int) -> Policy | None:
        if version == 0:
            return None
        if self.policy is not None and self.policy.version == version:
            return self.policy
        return self.app.repository.get(POLICY_ID, version=version)

    def rules_at(self, at: str) -> Rules:
        """The rules in force at the instant `at` (instant text)."""
        if self.policy is None:
            rows = self.store.fetch("SELECT MAX(version) FROM {policy}")
            if rows and rows[0][0]:
                self.policy = self._policy_at(int(rows[0][0]))
        if self.policy is None:
            return Rules(**DEFAULT_RULES)
        # Nearly always the latest version's: its rules and instant worked out once.
        if self._latest_rules is None or self._latest_rules[0] != self.policy.version:
            latest = self.policy.history[-1]
            self._latest_rules = (self.policy.version, instant_text(latest["effective_from"]),
                                  Rules(**latest["rules"]))
        if at < self._latest_rules[1]:  # fixed-width UTC text: text order is time order
            return self.policy.rules(parse_instant(at))
        return self._latest_rules[2]

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
        for table in ("events", "approvals", "progress", "spend", "policy"):
            w.insert(table, getattr(batch, table))
        self._write_projects(w, batch)
        self._write_queue(w, batch)

    @staticmethod
    def _write_projects(w: Writer, batch: Batch) -> None:
        if not batch.fresh:
            codes = [(code,) for code in batch.touched]
            for table in ("projects", "lines", "milestones"):
                w.delete_keys(table, ("project",), codes)
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
        if not batch.fresh:
            keys = [(code, derive.KINDS_QUEUE[coll], key) for code, coll, key in batch.queue]
            w.delete_keys("queue", ("project", "kind", "item"), keys)
        w.insert("queue", batch.queue_rows)


# Per event class: the item-naming attributes (derive.named_items) of queued collections.
_QUEUED_ATTRS: dict[type, list[tuple[str, str]]] = {}


def _queued_attrs(kind: type) -> list[tuple[str, str]]:
    attrs = derive.naming(kind)
    return [] if isinstance(attrs, str) else [(a, c) for a, c in attrs if c in derive.QUEUED]


# Rows -------------------------------------------------------------------------------------


def _broken(item: Item, what: str) -> ReadModelError:
    row = item.row
    return ReadModelError(
        f"position {row.position} ({(row.topic or '?').rsplit('.', 1)[-1]}, version "
        f"{row.event_originator_version}) {what}; run `pmo-ledger verify`")


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
