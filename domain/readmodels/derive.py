"""Read-model records derived from a project's state, and the per-event records (audit
changes, approvals) derived from one event and the state around it.

Pure functions: the projection uses them to write tables, the "as of" replay uses the
same ones on a replayed aggregate, so both give the same answer by construction.
Everything is sorted by key, because a project reloaded from a snapshot has its dicts in
canonical-JSON (sorted) order while one folded in memory has them in insertion order.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import earned_value
from domain.common import APPROVAL, REVIEW
from domain.money import ZERO
from domain.policy import GATE_NAMES, Rules
from domain.project import Project
from domain.readmodels.store import instant_text
from domain.readmodels.views import LineBudget, MilestonePlan, ProjectFacts, QueueItem

# Event attribute naming an item -> the project collection holding it, in the order the
# approvals register picks an act's subject.
ITEM_ATTRS: tuple[tuple[str, str], ...] = (
    ("expenditure_id", "expenditures"), ("po_number", "commitments"),
    ("transfer_id", "transfers"), ("cr_id", "change_requests"), ("gate", "gates"),
    ("milestone", "milestones"), ("risk_id", "risks"), ("issue_id", "issues"),
    ("report_id", "status_reports"), ("deliverable", "deliverables"), ("line", "lines"),
)
KINDS = {"expenditures": "expenditure", "commitments": "commitment", "transfers": "transfer",
         "change_requests": "change-request", "gates": "gate", "milestones": "milestone"}
KINDS_QUEUE = {**KINDS, "gates": "gate-signoff"}
QUEUED = ("expenditures", "commitments", "transfers", "change_requests", "gates")
_DECISIONS = {"Approved": "approved", "Rejected": "rejected", "Accepted": "accepted",
              "Passed": "passed", "Reversed": "reversed"}
_MISSING = object()
SIGNED_AS_DECISION = (APPROVAL, REVIEW)  # meanings that put an act in the approvals register
# Who/when fields an item records about its own creation: the event row already says it.
_BOOKKEEPING = frozenset({
    "submitted_by", "submitted_at", "requested_by", "requested_at", "raised_by", "raised_at",
    "published_by", "published_at", "percent_by", "reported_by"})

Subject = tuple[str, str | None]


# State -> records ------------------------------------------------------------------------


def project_facts(p: Project, position: int) -> ProjectFacts:
    totals = p.totals()
    gate = p.next_gate
    last = max(p.status_reports.items(), key=lambda kv: (kv[1]["published_at"], kv[0]),
               default=None)
    report = last[1] if last else {}
    c = p.charter
    return ProjectFacts(
        project=p.code, project_id=str(p.id), title=c["title"], currency=p.currency,
        status="closed" if p.closed else "active", next_gate=gate,
        next_gate_status=p.gates[gate]["status"] if gate else None, sponsor=c["sponsor"],
        project_manager=c["project_manager"], start_date=c["start_date"],
        target_finish=c["target_finish"], original=totals["original"], budget=totals["budget"],
        committed=totals["committed"], spent=totals["spent"], pending=totals["pending"],
        available=totals["available"], bac=earned_value.bac(p),
        last_report=last[0] if last else None, last_report_end=report.get("period_end"),
        last_report_overall=report.get("overall"), last_report_at=report.get("published_at"),
        version=p.version, position=position,
    )


def line_budgets(p: Project) -> list[LineBudget]:
    out = []
    for key in sorted(p.lines):
        s = p.lines[key]
        out.append(LineBudget(
            p.code, key, s["name"], s["category"], s["original"], s["transferred"],
            s["cr_adjusted"], s["budget"], s["committed"], s["spent"], s["pending"],
            s["budget"] - s["spent"] - s["committed"]))
    return out


def milestone_plans(p: Project) -> list[MilestonePlan]:
    return [MilestonePlan(p.code, key, m["name"], m["planned_start"], m["planned_finish"],
                          m["budgeted_value"], m["percent"], m["percent_as_of"], m["accepted"])
            for key, m in sorted(p.milestones.items())]


# Review queues ---------------------------------------------------------------------------


def queue_items(p: Project, collection: str, key: str, rules: Rules, position: int) -> list[QueueItem]:
    """What the item waits for, judged by `rules` (the policy in force at its last act)."""
    item = getattr(p, collection).get(key)
    if item is None:
        return []
    if collection == "gates":
        return _gate_queue(p, key, item, position)
    if item["status"] != "pending":
        return []
    role, summary, amount, by, at, approvals = _pending(collection, key, item, rules)
    return [QueueItem(p.code, KINDS_QUEUE[collection], key, role, summary, amount, by, at, approvals,
                      position)]


def _pending(collection: str, key: str, item: dict[str, Any], rules: Rules) -> tuple:
    if collection == "expenditures":
        summary = f"{item['vendor']} invoice {item['invoice_number']}: {item['description']}"
        return (awaiting(item, rules), summary, item["amount"], item["submitted_by"],
                item["submitted_at"], len(item["approvals"]))
    if collection == "commitments":
        summary = f"PO {key}: {item['vendor']} on {item['line']}"
        return (awaiting(item, rules), summary, item["amount"], item["submitted_by"],
                item["submitted_at"], len(item["approvals"]))
    if collection == "transfers":
        summary = f"{item['from_line']} -> {item['to_line']}: {item['reason']}"
        return (awaiting(item, rules), summary, item["amount"], item["requested_by"],
                item["requested_at"], len(item["approvals"]))
    cost = sum((i["amount"] for i in item["cost_impacts"]), ZERO)
    return (rules.change_approver_role, item["title"], cost, item["submitted_by"],
            item["submitted_at"], 0)


def awaiting(item: dict[str, Any], rules: Rules) -> str:
    """Whose approval a pending expenditure, PO or transfer needs next: fiscal officers first (two
    over the dual threshold), then the sponsor over the sponsor threshold."""
    fiscal_done = sum(1 for a in item["approvals"] if a["role"] == "fiscal")
    if fiscal_done >= rules.fiscal_approvals_needed(item["amount"]) and rules.sponsor_needed(item["amount"]):
        return "sponsor"
    return "fiscal"


def _gate_queue(p: Project, gate: str, state: dict[str, Any], position: int) -> list[QueueItem]:
    if state["status"] != "in-review":
        return []
    signed = {s["role"] for s in state["signoffs"] if s["decision"] != "rejected"}
    summary = f"{gate} ({GATE_NAMES[gate]}) review, round {state['round']}"
    return [QueueItem(p.code, KINDS_QUEUE["gates"], gate, role, summary, None, state["requested_by"],
                      state["requested_at"], len(state["signoffs"]), position)
            for role in sorted(set(state["required_roles"]) - signed)]


# Per event: what it touched, what changed, whether it is an approval --------------------


def subjects(p: Project | None, event: Any) -> tuple[list[Subject], int]:
    """The parts of the project an event can change: first the items it names (its
    acts are on them), then the items those hang on (an expenditure's line and PO, a
    change request's impacts). Returns them and how many are named."""
    kind, d = type(event), event.__dict__
    attrs = _attrs(kind)
    if isinstance(attrs, str):
        return [(attrs, None)], 1
    named = named_items(kind, d)
    out = list(named)
    for coll, key in named:
        item = getattr(p, coll).get(key) if p is not None else None
        out.extend(s for s in _hangers_on(coll, item or d) if s not in out)
    return out, len(named)


def named_items(kind: type, d: dict[str, Any]) -> list[Subject]:
    """The items an event (its class and fields) names: its acts are on them. None for
    the charter or the project as a whole."""
    attrs = _attrs(kind)
    if isinstance(attrs, str):
        return []
    return [(coll, d[attr]) for attr, coll in attrs if d.get(attr) is not None]


def _attrs(kind: type) -> str | list[tuple[str, str]]:
    attrs = _NAMING.get(kind)
    if attrs is None:
        attrs = _NAMING[kind] = _naming(kind)
    return attrs


def naming(kind: type) -> str | list[tuple[str, str]]:
    """The (attribute, collection) pairs by which an event class names items (what
    `named_items` reads), or a text where it names none (the charter...)."""
    return _attrs(kind)


def _naming(kind: type) -> str | list[tuple[str, str]]:
    """Which item-naming attributes an event class has (worked out once per class)."""
    if kind.__name__ in ("Chartered", "CharterAmended"):
        return "charter"
    if kind.__name__ == "Closed":
        return "project"
    names: set[str] = set()
    for klass in kind.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    return [(attr, coll) for attr, coll in ITEM_ATTRS if attr in names]


_NAMING: dict[type, str | list[tuple[str, str]]] = {}


def _hangers_on(coll: str, item: dict[str, Any]) -> list[Subject]:
    if coll in ("expenditures", "commitments"):
        found: list[Subject] = [("lines", item["line"])] if item.get("line") else []
        if item.get("po_number"):
            found.append(("commitments", item["po_number"]))
        return found
    if coll == "transfers":
        return [("lines", item["from_line"]), ("lines", item["to_line"])]
    if coll == "change_requests" and "cost_impacts" in item:
        return ([("lines", i["line"]) for i in item["cost_impacts"]]
                + [("milestones", i["milestone"]) for i in item["schedule_impacts"]]
                + [("deliverables", i["deliverable"]) for i in item["deliverables"]])
    return []


def snapshot(p: Project | None, subject: Subject) -> dict[str, Any]:
    """A subject's fields before an event: a shallow copy (values are immutable, except
    lists grown in place such as approvals, which then compare equal and are skipped:
    they have their own registers)."""
    live = current(p, subject)
    return dict(live) if live else {}


def current(p: Project | None, subject: Subject) -> dict[str, Any]:
    if p is None:
        return {}
    coll, key = subject
    if coll == "charter":
        return p.charter
    if coll == "project":
        return {"closed": p.closed}
    return getattr(p, coll).get(key) or {}


def item_path(subject: Subject) -> str:
    """`lines.HW-01`, `expenditures.EXP-0001`, `charter`, `project` (the closed flag)."""
    coll, key = subject
    return coll if key is None else f"{coll}.{key}"


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[list[str | None]]:
    """[field, old, new] for every field that differs, sorted by field; None is "no
    value". A new item's defaults and bookkeeping (who/when, repeated in the event) are
    left out."""
    if not before:
        found = [[name, None, render(new)] for name, new in after.items()
                 if name not in _BOOKKEEPING and not _is_default(new)]
    elif not after:  # the item was removed
        found = [[name, render(old), None] for name, old in before.items()]
    else:
        get = before.get
        # Unchanged fields are the very same objects (snapshot is a shallow copy).
        found = [[name, None if old is _MISSING else render(old), render(new)]
                 for name, new in after.items()
                 if (old := get(name, _MISSING)) is not new and old != new]
    if len(found) > 1:
        found.sort()
    return found


def _is_default(value: Any) -> bool:
    kind = type(value)
    if kind in (str, list, dict, Decimal, bool, int):
        return not value
    return value is None


def render(value: Any) -> str | None:
    """A field value as text: decimal strings, ISO dates, UTC instants, JSON for lists."""
    kind = type(value)
    if value is None or kind is str:
        return value
    fast = _RENDER.get(kind)
    if fast is not None:
        return fast(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, (date, Decimal, int, str)):
        return value.isoformat() if isinstance(value, date) else str(value)
    return json.dumps(value, default=str, sort_keys=True)


# Exact types only (subclasses take the general path above, in its order).
_RENDER: dict[type, Any] = {
    bool: lambda v: "true" if v else "false",
    Decimal: str,
    int: str,
    date: date.isoformat,
    datetime: instant_text,
}


def approval_record(name: str, d: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, item, decision) when the event (its class name and fields) is an act signed
    as approval or review."""
    if d.get("meaning") not in SIGNED_AS_DECISION:
        return None
    decision = d.get("decision") or next(
        (v for suffix, v in _DECISIONS.items() if name.endswith(suffix)), name)
    for attr, coll in ITEM_ATTRS:
        if d.get(attr) is not None and coll in KINDS:
            return KINDS[coll], str(d[attr]), decision
    return "project", "", decision


def conditions_text(d: dict[str, Any]) -> str | None:
    value = d.get("conditions")
    if value in (None, "", []):
        return None
    return value if isinstance(value, str) else json.dumps(value)
