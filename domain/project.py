"""The project aggregate: charter, gates, baseline, change control, money, progress, risks.

Commands (public methods) check every rule first (`check_*`, raising named errors) and
only then trigger events, so a refused command leaves the aggregate untouched and writes
nothing. Whatever a decision depended on outside this aggregate (the acting person's
roles, the thresholds in force) is resolved by the command and recorded in the event
(`role`, `completes_approval`, `liquidates`...), so replaying the log never needs the
policy or the directory again and always rebuilds the same state.

State is plain dicts, lists, str, int, bool, Decimal and date, keyed by str: it must
survive canonical JSON unchanged (snapshots and replays compare equal).
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import validate as v
from domain.common import (
    APPROVAL,
    AUTHORSHIP,
    RESPONSIBILITY,
    REVIEW,
    DomainEvent,
    SignedEvent,
    Who,
    reason_text,
    text,
)
from domain.earned_value import figures
from domain.errors import (
    BaselineLockedError,
    DuplicateError,
    GateOutOfOrderError,
    InvalidStateError,
    NotAuthorisedError,
    NotFoundError,
    OpenItemsError,
    ProjectClosedError,
    SegregationOfDutiesError,
    ThresholdApprovalsError,
    ValidationError,
    WouldOverdrawError,
)
from domain.money import ZERO, fmt, money, non_negative, positive
from domain.policy import GATE_NAMES, GATES, Rules

_T = "domain.project:Project"
CATEGORIES = ("labour", "hardware", "software", "vendor services", "training", "contingency")
FUNDING_TYPES = ("capital", "operating")
RAG = ("green", "amber", "red")
DECISIONS = ("approved", "approved-with-conditions", "rejected")
SEVERITIES = ("low", "medium", "high", "critical")
RISK_STATUSES = ("open", "mitigating", "occurred")
CHARTER_FIELDS = (
    "title", "sponsor", "project_manager", "business_relationship_manager", "objectives",
    "scope_statement", "start_date", "target_finish", "fund", "cost_centre", "funding_type",
)
_PROJECT_CODE = re.compile(v.PROJECT_CODE_PATTERN)
_CURRENCY = re.compile(v.CURRENCY_PATTERN)


def project_id(code: str) -> UUID:
    """A project's id is derived from its code, so the code identifies it for ever."""
    return uuid5(NAMESPACE_URL, f"urn:pmo-ledger:project:{str(code).strip().upper()}")


# Values deepcopy returns as they are (immutable): a dict of only these is copied flat.
_ATOMS = frozenset({str, int, bool, type(None), Decimal, date, datetime, UUID})


def _copy(value: Any) -> Any:
    # State never shares mutable objects with events: an event is a record, not a variable.
    # Most changes are one flat dict of immutable values, whose shallow copy is what
    # deepcopy would give, several times faster (a long project folds thousands of them).
    if type(value) is dict and all(type(v) in _ATOMS for v in value.values()):
        return dict(value)
    return copy.deepcopy(value)


class Project(Aggregate):
    """One public-sector IT project, identified by its code (e.g. IT-2026-014)."""

    TOPIC = _T
    # 2: each gate keeps the conditions recorded as met (`conditions_met`).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before conditions could be recorded as met."""
        for gate in state["gates"].values():
            gate.setdefault("conditions_met", [])

    class Created(DomainEvent, Aggregate.Created):
        """Abstract base of this aggregate's creation event (never recorded itself)."""

        TOPIC = f"{_T}.Created"

    # Charter --------------------------------------------------------------------------

    class Chartered(Created):
        TOPIC = f"{_T}.Chartered"
        class_version = 1
        code: str
        currency: str
        charter: dict[str, Any]
        actor_id: str
        actor_name: str
        meaning: str

    class CharterAmended(SignedEvent):
        TOPIC = f"{_T}.CharterAmended"
        changes: dict[str, Any]
        previous: dict[str, Any]
        reason: str

        def apply(self, p: Project) -> None:
            p.charter.update(_copy(self.changes))

    # Baseline -------------------------------------------------------------------------

    class DeliverableAdded(SignedEvent):
        TOPIC = f"{_T}.DeliverableAdded"
        deliverable: str
        name: str
        description: str
        change_request: str | None

        def apply(self, p: Project) -> None:
            p.deliverables[self.deliverable] = {
                "name": self.name, "description": self.description,
                "change_request": self.change_request,
            }

    class DeliverableRemoved(SignedEvent):
        TOPIC = f"{_T}.DeliverableRemoved"
        deliverable: str
        reason: str

        def apply(self, p: Project) -> None:
            del p.deliverables[self.deliverable]

    class BudgetLineAdded(SignedEvent):
        TOPIC = f"{_T}.BudgetLineAdded"
        line: str
        name: str
        category: str
        amount: Decimal

        def apply(self, p: Project) -> None:
            p.lines[self.line] = _new_line(self.name, self.category, self.amount)

    class BudgetLineRevised(SignedEvent):
        TOPIC = f"{_T}.BudgetLineRevised"
        line: str
        changes: dict[str, Any]
        previous: dict[str, Any]
        reason: str

        def apply(self, p: Project) -> None:
            state = p.lines[self.line]
            for key, value in self.changes.items():
                if key == "amount":
                    state["budget"] += value - state["original"]
                    state["original"] = value
                else:
                    state[key] = value

    class BudgetLineRemoved(SignedEvent):
        TOPIC = f"{_T}.BudgetLineRemoved"
        line: str
        reason: str

        def apply(self, p: Project) -> None:
            del p.lines[self.line]

    class MilestoneAdded(SignedEvent):
        TOPIC = f"{_T}.MilestoneAdded"
        milestone: str
        name: str
        planned_start: date
        planned_finish: date
        budgeted_value: Decimal

        def apply(self, p: Project) -> None:
            p.milestones[self.milestone] = {
                "name": self.name, "planned_start": self.planned_start,
                "planned_finish": self.planned_finish, "budgeted_value": self.budgeted_value,
                "progress": [], "percent": 0, "percent_as_of": None, "percent_by": None,
                "accepted": False, "accepted_on": None, "accepted_by": None,
            }

    class MilestoneRevised(SignedEvent):
        TOPIC = f"{_T}.MilestoneRevised"
        milestone: str
        changes: dict[str, Any]
        previous: dict[str, Any]
        reason: str

        def apply(self, p: Project) -> None:
            p.milestones[self.milestone].update(_copy(self.changes))

    class MilestoneRemoved(SignedEvent):
        TOPIC = f"{_T}.MilestoneRemoved"
        milestone: str
        reason: str

        def apply(self, p: Project) -> None:
            del p.milestones[self.milestone]

    # Gates ----------------------------------------------------------------------------

    class GateReviewRequested(SignedEvent):
        TOPIC = f"{_T}.GateReviewRequested"
        gate: str
        round: int
        artifacts: list[dict[str, Any]]
        note: str
        required_roles: list[str]

        def apply(self, p: Project) -> None:
            p.gates[self.gate].update(
                status="in-review", round=self.round, requested_by=self.actor_id,
                requested_at=self.timestamp, artifacts=_copy(self.artifacts), note=self.note,
                signoffs=[], required_roles=list(self.required_roles),
            )

    class GateSignedOff(SignedEvent):
        TOPIC = f"{_T}.GateSignedOff"
        gate: str
        round: int
        role: str
        decision: str
        conditions: str
        reason: str
        required_roles: list[str]

        def apply(self, p: Project) -> None:
            gate = p.gates[self.gate]
            gate["signoffs"].append({
                "actor_id": self.actor_id, "actor_name": self.actor_name, "role": self.role,
                "decision": self.decision, "conditions": self.conditions, "reason": self.reason,
            })
            if self.decision == "rejected":
                gate["status"] = "rejected"

    class GatePassed(SignedEvent):
        TOPIC = f"{_T}.GatePassed"
        gate: str
        round: int
        conditions: list[str]

        def apply(self, p: Project) -> None:
            p.gates[self.gate].update(status="passed", passed_at=self.timestamp,
                                      conditions=list(self.conditions))

    class GateConditionsMet(SignedEvent):
        """The PMO lead or the sponsor confirms conditions set when the gate passed are met
        (meaning: approval). `conditions` are texts exactly as they were set; `round` is the
        review round that passed with them."""

        TOPIC = f"{_T}.GateConditionsMet"
        gate: str
        round: int
        conditions: list[str]
        reason: str

        def apply(self, p: Project) -> None:
            p.gates[self.gate]["conditions_met"].extend(
                {"condition": c, "round": self.round, "actor_id": self.actor_id,
                 "actor_name": self.actor_name, "reason": self.reason, "at": self.timestamp}
                for c in self.conditions)

    class Closed(SignedEvent):
        TOPIC = f"{_T}.Closed"
        reason: str

        def apply(self, p: Project) -> None:
            p.closed = True

    # Change requests --------------------------------------------------------------------

    class ChangeRequestSubmitted(SignedEvent):
        TOPIC = f"{_T}.ChangeRequestSubmitted"
        cr_id: str
        title: str
        description: str
        justification: str
        cost_impacts: list[dict[str, Any]]
        schedule_impacts: list[dict[str, Any]]
        scope_impact: str
        deliverables: list[dict[str, Any]]

        def apply(self, p: Project) -> None:
            p.change_requests[self.cr_id] = {
                "title": self.title, "description": self.description,
                "justification": self.justification, "cost_impacts": _copy(self.cost_impacts),
                "schedule_impacts": _copy(self.schedule_impacts),
                "scope_impact": self.scope_impact, "deliverables": _copy(self.deliverables),
                "status": "pending", "submitted_by": self.actor_id,
                "submitted_at": self.timestamp, "decided_by": None, "reason": "",
            }

    class ChangeRequestApproved(SignedEvent):
        TOPIC = f"{_T}.ChangeRequestApproved"
        cr_id: str
        role: str
        reason: str

        def apply(self, p: Project) -> None:
            cr = p.change_requests[self.cr_id]
            cr.update(status="approved", decided_by=self.actor_id, reason=self.reason)
            p.apply_change_request(self.cr_id)

    class ChangeRequestRejected(SignedEvent):
        TOPIC = f"{_T}.ChangeRequestRejected"
        cr_id: str
        reason: str

        def apply(self, p: Project) -> None:
            p.change_requests[self.cr_id].update(
                status="rejected", decided_by=self.actor_id, reason=self.reason)

    class ChangeRequestWithdrawn(SignedEvent):
        TOPIC = f"{_T}.ChangeRequestWithdrawn"
        cr_id: str
        reason: str

        def apply(self, p: Project) -> None:
            p.change_requests[self.cr_id].update(
                status="withdrawn", decided_by=self.actor_id, reason=self.reason)

    # Budget transfers ------------------------------------------------------------------

    class BudgetTransferRequested(SignedEvent):
        TOPIC = f"{_T}.BudgetTransferRequested"
        transfer_id: str
        from_line: str
        to_line: str
        amount: Decimal
        reason: str

        def apply(self, p: Project) -> None:
            p.transfers[self.transfer_id] = {
                "from_line": self.from_line, "to_line": self.to_line, "amount": self.amount,
                "reason": self.reason, "status": "pending", "requested_by": self.actor_id,
                "requested_at": self.timestamp, "decided_by": None, "decision_reason": "",
            }

    class BudgetTransferApproved(SignedEvent):
        TOPIC = f"{_T}.BudgetTransferApproved"
        transfer_id: str
        reason: str

        def apply(self, p: Project) -> None:
            t = p.transfers[self.transfer_id]
            t.update(status="approved", decided_by=self.actor_id, decision_reason=self.reason)
            for line, sign in ((t["from_line"], -1), (t["to_line"], 1)):
                p.lines[line]["transferred"] += sign * t["amount"]
                p.lines[line]["budget"] += sign * t["amount"]

    class BudgetTransferRejected(SignedEvent):
        TOPIC = f"{_T}.BudgetTransferRejected"
        transfer_id: str
        reason: str

        def apply(self, p: Project) -> None:
            p.transfers[self.transfer_id].update(
                status="rejected", decided_by=self.actor_id, decision_reason=self.reason)

    # Commitments ----------------------------------------------------------------------

    class CommitmentSubmitted(SignedEvent):
        TOPIC = f"{_T}.CommitmentSubmitted"
        po_number: str
        vendor: str
        line: str
        amount: Decimal
        description: str

        def apply(self, p: Project) -> None:
            p.commitments[self.po_number] = {
                "vendor": self.vendor, "line": self.line, "amount": self.amount,
                "description": self.description, "status": "pending", "remaining": ZERO,
                "liquidated": ZERO, "released": ZERO, "approvals": [],
                "submitted_by": self.actor_id, "submitted_at": self.timestamp,
                "decided_by": None, "reason": "",
            }

    class CommitmentApproved(SignedEvent):
        TOPIC = f"{_T}.CommitmentApproved"
        po_number: str
        role: str
        reason: str
        completes_approval: bool

        def apply(self, p: Project) -> None:
            c = p.commitments[self.po_number]
            c["approvals"].append(_approval(self))
            if self.completes_approval:
                c.update(status="open", remaining=c["amount"])
                p.lines[c["line"]]["committed"] += c["amount"]

    class CommitmentRejected(SignedEvent):
        TOPIC = f"{_T}.CommitmentRejected"
        po_number: str
        reason: str

        def apply(self, p: Project) -> None:
            p.commitments[self.po_number].update(
                status="rejected", decided_by=self.actor_id, reason=self.reason)

    class CommitmentClosed(SignedEvent):
        TOPIC = f"{_T}.CommitmentClosed"
        po_number: str
        released: Decimal
        reason: str

        def apply(self, p: Project) -> None:
            p.end_commitment(self.po_number, "closed", self.released, self)

    class CommitmentReleased(SignedEvent):
        TOPIC = f"{_T}.CommitmentReleased"
        po_number: str
        released: Decimal
        reason: str

        def apply(self, p: Project) -> None:
            p.end_commitment(self.po_number, "released", self.released, self)

    # Expenditures ---------------------------------------------------------------------

    class ExpenditureSubmitted(SignedEvent):
        TOPIC = f"{_T}.ExpenditureSubmitted"
        expenditure_id: str
        line: str
        amount: Decimal
        vendor: str
        invoice_number: str
        invoice_date: date
        description: str
        po_number: str | None
        document_sha256: str | None

        def apply(self, p: Project) -> None:
            p.expenditures[self.expenditure_id] = {
                "line": self.line, "amount": self.amount, "vendor": self.vendor,
                "invoice_number": self.invoice_number, "invoice_date": self.invoice_date,
                "description": self.description, "po_number": self.po_number,
                "document_sha256": self.document_sha256, "status": "pending",
                "approvals": [], "liquidated": ZERO, "submitted_by": self.actor_id,
                "submitted_at": self.timestamp, "decided_by": None, "reason": "",
            }
            p.lines[self.line]["pending"] += self.amount

    class ExpenditureApproved(SignedEvent):
        TOPIC = f"{_T}.ExpenditureApproved"
        expenditure_id: str
        role: str
        reason: str
        completes_approval: bool
        liquidates: Decimal

        def apply(self, p: Project) -> None:
            e = p.expenditures[self.expenditure_id]
            e["approvals"].append(_approval(self))
            if not self.completes_approval:
                return
            line = p.lines[e["line"]]
            e.update(status="approved", liquidated=self.liquidates)
            line["pending"] -= e["amount"]
            line["spent"] += e["amount"]
            if self.liquidates:
                p.move_commitment(e["po_number"], -self.liquidates)

    class ExpenditureRejected(SignedEvent):
        TOPIC = f"{_T}.ExpenditureRejected"
        expenditure_id: str
        reason: str

        def apply(self, p: Project) -> None:
            e = p.expenditures[self.expenditure_id]
            e.update(status="rejected", decided_by=self.actor_id, reason=self.reason)
            p.lines[e["line"]]["pending"] -= e["amount"]

    class ExpenditureReversed(SignedEvent):
        TOPIC = f"{_T}.ExpenditureReversed"
        expenditure_id: str
        reason: str
        restores: Decimal

        def apply(self, p: Project) -> None:
            e = p.expenditures[self.expenditure_id]
            e.update(status="reversed", decided_by=self.actor_id, reason=self.reason)
            p.lines[e["line"]]["spent"] -= e["amount"]
            if self.restores:
                p.move_commitment(e["po_number"], self.restores)

    # Progress ---------------------------------------------------------------------------

    class ProgressReported(SignedEvent):
        TOPIC = f"{_T}.ProgressReported"
        milestone: str
        percent: int
        as_of: date
        note: str

        def apply(self, p: Project) -> None:
            m = p.milestones[self.milestone]
            m["progress"].append({"as_of": self.as_of, "percent": self.percent,
                                  "reported_by": self.actor_id})
            # The current figure is the one for the latest business date, not the latest
            # typed: a late report for last month must not overwrite this month's.
            if m["percent_as_of"] is None or self.as_of >= m["percent_as_of"]:
                m.update(percent=self.percent, percent_as_of=self.as_of,
                         percent_by=self.actor_id)

    class MilestoneAccepted(SignedEvent):
        TOPIC = f"{_T}.MilestoneAccepted"
        milestone: str
        accepted_on: date
        reason: str

        def apply(self, p: Project) -> None:
            p.milestones[self.milestone].update(
                accepted=True, accepted_on=self.accepted_on, accepted_by=self.actor_id)

    # Risks and issues -------------------------------------------------------------------

    class RiskRaised(SignedEvent):
        TOPIC = f"{_T}.RiskRaised"
        risk_id: str
        title: str
        description: str
        probability: int
        impact: int
        owner: str
        mitigation: str

        def apply(self, p: Project) -> None:
            p.risks[self.risk_id] = {
                "title": self.title, "description": self.description,
                "probability": self.probability, "impact": self.impact, "owner": self.owner,
                "mitigation": self.mitigation, "status": "open", "raised_by": self.actor_id,
                "raised_at": self.timestamp,
            }

    class RiskUpdated(SignedEvent):
        TOPIC = f"{_T}.RiskUpdated"
        risk_id: str
        changes: dict[str, Any]
        previous: dict[str, Any]
        reason: str

        def apply(self, p: Project) -> None:
            p.risks[self.risk_id].update(_copy(self.changes))

    class RiskClosed(SignedEvent):
        TOPIC = f"{_T}.RiskClosed"
        risk_id: str
        reason: str

        def apply(self, p: Project) -> None:
            p.risks[self.risk_id]["status"] = "closed"

    class IssueRaised(SignedEvent):
        TOPIC = f"{_T}.IssueRaised"
        issue_id: str
        title: str
        description: str
        severity: str
        owner: str

        def apply(self, p: Project) -> None:
            p.issues[self.issue_id] = {
                "title": self.title, "description": self.description,
                "severity": self.severity, "owner": self.owner, "status": "open",
                "escalations": [], "resolution": "", "raised_by": self.actor_id,
                "raised_at": self.timestamp,
            }

    class IssueEscalated(SignedEvent):
        TOPIC = f"{_T}.IssueEscalated"
        issue_id: str
        to: str
        reason: str

        def apply(self, p: Project) -> None:
            issue = p.issues[self.issue_id]
            issue["status"] = "escalated"
            issue["escalations"].append({"to": self.to, "reason": self.reason,
                                         "by": self.actor_id})

    class IssueResolved(SignedEvent):
        TOPIC = f"{_T}.IssueResolved"
        issue_id: str
        resolution: str

        def apply(self, p: Project) -> None:
            p.issues[self.issue_id].update(status="resolved", resolution=self.resolution)

    # Status reports ---------------------------------------------------------------------

    class StatusReportPublished(SignedEvent):
        TOPIC = f"{_T}.StatusReportPublished"
        report_id: str
        period_start: date
        period_end: date
        overall: str
        schedule: str
        budget: str
        scope: str
        summary: str
        figures: dict[str, Any]

        def apply(self, p: Project) -> None:
            p.status_reports[self.report_id] = {
                "period_start": self.period_start, "period_end": self.period_end,
                "overall": self.overall, "schedule": self.schedule, "budget": self.budget,
                "scope": self.scope, "summary": self.summary, "figures": _copy(self.figures),
                "published_by": self.actor_id, "published_at": self.timestamp,
            }

    # Construction ---------------------------------------------------------------------

    def __init__(self, code: str, currency: str, charter: dict[str, Any], actor_id: str,
                 actor_name: str, meaning: str) -> None:
        self.code = code
        self.currency = currency
        self.charter = _copy(charter)
        self.closed = False
        self.gates: dict[str, dict[str, Any]] = {g: _new_gate() for g in GATES}
        self.deliverables: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, dict[str, Any]] = {}
        self.milestones: dict[str, dict[str, Any]] = {}
        self.change_requests: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.commitments: dict[str, dict[str, Any]] = {}
        self.expenditures: dict[str, dict[str, Any]] = {}
        self.risks: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, dict[str, Any]] = {}
        self.status_reports: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id(code: str) -> UUID:
        return project_id(code)

    @classmethod
    def create(cls, *, code: str, currency: str = "USD", by: Who, **fields: Any) -> Project:
        """A new project; `fields` are the CHARTER_FIELDS, all required."""
        code = _project_code(code)
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise ValidationError("currency is a three-letter ISO code such as USD", field="currency")
        missing = [f for f in CHARTER_FIELDS if f not in fields]
        unknown = sorted(set(fields) - set(CHARTER_FIELDS))
        if missing or unknown:
            raise ValidationError(f"charter fields missing {missing} / unknown {unknown}")
        charter = {f: _charter_value(f, fields[f]) for f in CHARTER_FIELDS}
        _check_charter_dates(charter)
        return cls._create(cls.Chartered, id=project_id(code), code=code, currency=currency,
                           charter=charter, **by.signed(AUTHORSHIP))

    # Queries --------------------------------------------------------------------------

    @property
    def baseline_locked(self) -> bool:
        """After G1 (planning) passes, the baseline changes only by change request."""
        return self.gates["G1"]["status"] == "passed"

    @property
    def next_gate(self) -> str | None:
        return next((g for g in GATES if self.gates[g]["status"] != "passed"), None)

    def open_items(self) -> list[str]:
        """What closing the project now would leave stuck for ever, one text per item:
        purchase orders still open (their encumbrance never released) and expenditures,
        purchase orders, budget transfers and change requests awaiting a decision."""
        items = []
        for po, c in self.commitments.items():
            if c["status"] == "open":
                items.append(f"{po} is still open ({fmt(c['remaining'])} committed)")
            elif c["status"] == "pending":
                items.append(f"{po} awaits approval")
        items += [f"{k} awaits approval" for k, e in self.expenditures.items() if e["status"] == "pending"]
        items += [f"{k} awaits approval" for k, t in self.transfers.items() if t["status"] == "pending"]
        items += [f"{k} is pending" for k, cr in self.change_requests.items() if cr["status"] == "pending"]
        return items

    def open_conditions(self, gate: str) -> list[str]:
        """Conditions the gate passed with that are not yet recorded as met."""
        state = self.gate(gate)
        met = {m["condition"] for m in state["conditions_met"]}
        return [c for c in state["conditions"] if c not in met]

    def line(self, line: str) -> dict[str, Any]:
        try:
            return self.lines[line]
        except KeyError:
            raise NotFoundError(f"{self.code} has no budget line {line}", field="line") from None

    def available(self, line: str) -> Decimal:
        """Line budget - approved expenditures - open commitments."""
        state = self.line(line)
        return state["budget"] - state["spent"] - state["committed"]

    def totals(self) -> dict[str, Decimal]:
        keys = ("original", "budget", "committed", "spent", "pending")
        out = {k: sum((s[k] for s in self.lines.values()), ZERO) for k in keys}
        out["available"] = out["budget"] - out["spent"] - out["committed"]
        return out

    def _item(self, table: dict[str, dict[str, Any]], key: str, kind: str, field: str) -> dict[str, Any]:
        try:
            return table[key]
        except KeyError:
            raise NotFoundError(f"{self.code} has no {kind} {key}", field=field) from None

    def expenditure(self, expenditure_id: str) -> dict[str, Any]:
        return self._item(self.expenditures, expenditure_id, "expenditure", "expenditure_id")

    def commitment(self, po_number: str) -> dict[str, Any]:
        return self._item(self.commitments, po_number, "purchase order", "po_number")

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        return self._item(self.transfers, transfer_id, "budget transfer", "transfer_id")

    def change_request(self, cr_id: str) -> dict[str, Any]:
        return self._item(self.change_requests, cr_id, "change request", "cr_id")

    def milestone(self, milestone: str) -> dict[str, Any]:
        return self._item(self.milestones, milestone, "milestone", "milestone")

    def risk(self, risk_id: str) -> dict[str, Any]:
        return self._item(self.risks, risk_id, "risk", "risk_id")

    def issue(self, issue_id: str) -> dict[str, Any]:
        return self._item(self.issues, issue_id, "issue", "issue_id")

    def gate(self, gate: str) -> dict[str, Any]:
        if gate not in GATES:
            raise ValidationError(f"gate must be one of {', '.join(GATES)} (got {gate!r})", field="gate")
        return self.gates[gate]

    # Rules ------------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.closed:
            raise ProjectClosedError(
                f"{self.code} is closed (G4 closeout passed); it accepts nothing but fiscal reversals")

    def check_baseline_editable(self) -> None:
        self.check_open()
        if self.baseline_locked:
            raise BaselineLockedError(
                f"the baseline of {self.code} is locked since G1 (planning) passed; "
                "submit a change request instead")

    def check_can_draw(self, line: str, amount: Decimal, action: str) -> None:
        """Refuse anything that would take a line's available balance below zero."""
        available = self.available(line)
        if amount > available:
            raise WouldOverdrawError(
                f"{action} would overdraw line {line} by {fmt(amount - available)}; "
                f"available {fmt(available)}", field="amount",
                line=line, available=available, shortfall=amount - available)

    @staticmethod
    def check_not_submitter(item: dict[str, Any], key: str, by: Who, action: str) -> None:
        """Nobody approves, rejects or signs off what they submitted themselves."""
        if item[key] == by.actor_id:
            raise SegregationOfDutiesError(
                f"{by.actor_name} may not {action}: they submitted it themselves, "
                "so another person must")

    @staticmethod
    def check_status(item: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
        if item["status"] not in allowed:
            raise InvalidStateError(f"{what} is {item['status']}; only {' or '.join(allowed)} can be acted on")

    def check_nothing_open(self, action: str) -> None:
        """Closeout leaves nothing stuck: after G4 no purchase order could be closed or
        released and no pending item approved, rejected or withdrawn any more."""
        items = self.open_items()
        if items:
            shown = items if len(items) <= 8 else [*items[:8], f"and {len(items) - 8} more"]
            raise OpenItemsError(
                f"cannot {action}: {', '.join(shown)}; close or release every purchase order "
                "and decide every pending item first", field="gate", items=items)

    def check_gate_order(self, gate: str) -> None:
        index = GATES.index(gate)
        if index and self.gates[GATES[index - 1]]["status"] != "passed":
            prev = GATES[index - 1]
            raise GateOutOfOrderError(
                f"{gate} ({GATE_NAMES[gate]}) cannot be reviewed before {prev} "
                f"({GATE_NAMES[prev]}) has passed", field="gate")

    # Charter commands -----------------------------------------------------------------

    def amend_charter(self, *, changes: dict[str, Any], by: Who, reason: str) -> None:
        self.check_open()
        unknown = sorted(set(changes) - set(CHARTER_FIELDS))
        if unknown:
            raise ValidationError(f"cannot amend {', '.join(unknown)}: charter fields are "
                                  f"{', '.join(CHARTER_FIELDS)}")
        clean = {f: _charter_value(f, value) for f, value in changes.items()}
        effective = {f: value for f, value in clean.items() if self.charter[f] != value}
        if not effective:
            raise ValidationError("the amendment changes nothing")
        _check_charter_dates({**self.charter, **effective})
        self.trigger_event(self.CharterAmended, changes=effective,
                           previous={f: _copy(self.charter[f]) for f in effective},
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))

    # Baseline commands ----------------------------------------------------------------

    def add_deliverable(self, *, deliverable: str, name: str, description: str, by: Who) -> None:
        self.check_baseline_editable()
        key = v.code(deliverable, "deliverable")
        if key in self.deliverables:
            raise DuplicateError(f"deliverable {key} already exists", field="deliverable")
        self.trigger_event(self.DeliverableAdded, deliverable=key, name=text(name, "name", limit=200),
                           description=text(description, "description", required=False),
                           change_request=None, **by.signed(AUTHORSHIP))

    def remove_deliverable(self, *, deliverable: str, by: Who, reason: str) -> None:
        self.check_baseline_editable()
        self._item(self.deliverables, deliverable, "deliverable", "deliverable")
        self.trigger_event(self.DeliverableRemoved, deliverable=deliverable,
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))

    def add_budget_line(self, *, line: str, name: str, category: str, amount: Any, by: Who) -> None:
        self.check_baseline_editable()
        key = v.code(line, "line")
        if key in self.lines:
            raise DuplicateError(f"budget line {key} already exists", field="line")
        self.trigger_event(
            self.BudgetLineAdded, line=key, name=text(name, "name", limit=200),
            category=v.choice(category, "category", CATEGORIES),
            amount=non_negative(amount), **by.signed(AUTHORSHIP))

    def revise_budget_line(self, *, line: str, amount: Any, name: str | None,
                           category: str | None, by: Who, reason: str) -> None:
        self.check_baseline_editable()
        state = self.line(line)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = text(name, "name", limit=200)
        if category is not None:
            changes["category"] = v.choice(category, "category", CATEGORIES)
        if amount is not None:
            changes["amount"] = non_negative(amount)
        previous = {k: state["original" if k == "amount" else k] for k in changes}
        changes = {k: val for k, val in changes.items() if previous[k] != val}
        if not changes:
            raise ValidationError("the revision changes nothing")
        if "amount" in changes and changes["amount"] < previous["amount"]:
            self.check_can_draw(line, previous["amount"] - changes["amount"], "this reduction")
        self.trigger_event(self.BudgetLineRevised, line=line, changes=changes,
                           previous={k: previous[k] for k in changes},
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))

    def remove_budget_line(self, *, line: str, by: Who, reason: str) -> None:
        self.check_baseline_editable()
        self.line(line)
        if self._line_has_history(line):
            raise InvalidStateError(
                f"line {line} has transfers, commitments or expenditures against it and "
                "cannot be removed; revise its amount instead", field="line")
        self.trigger_event(self.BudgetLineRemoved, line=line, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    def _line_has_history(self, line: str) -> bool:
        items = [*self.commitments.values(), *self.expenditures.values()]
        return any(i["line"] == line for i in items) or any(
            line in (t["from_line"], t["to_line"]) for t in self.transfers.values())

    def add_milestone(self, *, milestone: str, name: str, planned_start: Any, planned_finish: Any,
                      budgeted_value: Any, by: Who) -> None:
        self.check_baseline_editable()
        key = v.code(milestone, "milestone")
        if key in self.milestones:
            raise DuplicateError(f"milestone {key} already exists", field="milestone")
        start, finish = v.day(planned_start, "planned_start"), v.day(planned_finish, "planned_finish")
        v.period(start, finish, "planned_start", "planned_finish")
        self.trigger_event(self.MilestoneAdded, milestone=key, name=text(name, "name", limit=200),
                           planned_start=start, planned_finish=finish,
                           budgeted_value=non_negative(budgeted_value, "budgeted_value"),
                           **by.signed(AUTHORSHIP))

    def revise_milestone(self, *, milestone: str, name: str | None, planned_start: Any,
                         planned_finish: Any, budgeted_value: Any, by: Who, reason: str) -> None:
        self.check_baseline_editable()
        state = self.milestone(milestone)
        changes = _milestone_changes(state, name=name, planned_start=planned_start,
                                     planned_finish=planned_finish, budgeted_value=budgeted_value)
        self.trigger_event(self.MilestoneRevised, milestone=milestone, changes=changes,
                           previous={k: state[k] for k in changes}, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    def remove_milestone(self, *, milestone: str, by: Who, reason: str) -> None:
        self.check_baseline_editable()
        if self.milestone(milestone)["progress"]:
            raise InvalidStateError(f"milestone {milestone} has progress reported and cannot be removed")
        self.trigger_event(self.MilestoneRemoved, milestone=milestone, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    # Gate commands ------------------------------------------------------------------------

    def request_gate_review(self, *, gate: str, artifacts: list[dict[str, Any]], note: str,
                            required: list[str], by: Who) -> None:
        """Open a review round; the sign-offs it needs are those the policy requires now,
        so a policy change during the review cannot leave it unpassable."""
        self.check_open()
        state = self.gate(gate)
        self.check_gate_order(gate)
        if state["status"] in ("passed", "in-review"):
            raise InvalidStateError(f"{gate} is already {state['status']}", field="gate")
        if gate == "G1" and not (self.lines and self.milestones):
            raise InvalidStateError(
                "G1 (planning) needs budget lines and milestones in the baseline first", field="gate")
        if gate == GATES[-1]:
            self.check_nothing_open(f"request {gate} closeout")
        self.trigger_event(self.GateReviewRequested, gate=gate, round=state["round"] + 1,
                           artifacts=_artifacts(artifacts),
                           note=text(note, "note", required=False),
                           required_roles=sorted(required), **by.signed(AUTHORSHIP))

    def sign_off_gate(self, *, gate: str, decision: str, conditions: str, reason: str,
                      as_role: str | None, by: Who) -> None:
        self.check_open()
        state = self.gate(gate)
        if state["status"] != "in-review":
            raise InvalidStateError(f"{gate} is not under review (it is {state['status']})", field="gate")
        required = state["required_roles"]
        self.check_not_submitter(state, "requested_by", by, f"sign off the {gate} review")
        if any(s["actor_id"] == by.actor_id for s in state["signoffs"]):
            raise SegregationOfDutiesError(
                f"{by.actor_name} already signed off {gate}; each sign-off must come from a different person")
        role = self._signoff_role(state, gate, as_role, required, by)
        decision = v.choice(decision, "decision", DECISIONS)
        conditions = text(conditions, "conditions", required=decision == "approved-with-conditions")
        reason = text(reason, "reason", required=decision == "rejected")
        passes = decision != "rejected" and set(required) <= {
            *(s["role"] for s in state["signoffs"] if s["decision"] != "rejected"), role}
        if passes and gate == GATES[-1]:
            # Something may have been submitted while the closeout was under review.
            self.check_nothing_open(f"pass {gate} closeout")
        self.trigger_event(self.GateSignedOff, gate=gate, round=state["round"], role=role,
                           decision=decision, conditions=conditions, reason=reason,
                           required_roles=sorted(required),
                           **by.signed(REVIEW if decision == "rejected" else APPROVAL))
        if decision != "rejected" and self._all_signed(state, required):
            self._pass_gate(gate, by)

    def record_gate_conditions_met(self, *, gate: str, conditions: list[str], by: Who,
                                   reason: str) -> None:
        """Record that conditions set when `gate` passed are met. Allowed on a closed
        project too: the conditions of G4 can only be met after closeout, and this changes
        nothing but the record of them."""
        state = self.gate(gate)
        if state["status"] != "passed":
            raise InvalidStateError(
                f"{gate} has not passed (it is {state['status']}); only the conditions of a "
                "passed gate can be recorded as met", field="gate")
        self.check_not_submitter(state, "requested_by", by, f"confirm the conditions of {gate}")
        if isinstance(conditions, str) or not isinstance(conditions, (list, tuple)) or not conditions:
            raise ValidationError("name at least one condition that is met", field="conditions")
        wanted = [text(c, "conditions") for c in conditions]
        _check_unique(wanted, "conditions", "condition")
        met = {m["condition"] for m in state["conditions_met"]}
        for c in wanted:
            if c in met:
                raise InvalidStateError(f"the condition {c!r} of {gate} is already recorded as met",
                                        field="conditions")
            if c not in state["conditions"]:
                given = "; ".join(repr(x) for x in state["conditions"]) or "none"
                raise ValidationError(
                    f"{gate} of {self.code} was not passed with the condition {c!r}; its "
                    f"conditions are: {given}", field="conditions")
        self.trigger_event(self.GateConditionsMet, gate=gate, round=state["round"],
                           conditions=wanted, reason=reason_text(reason), **by.signed(APPROVAL))

    def _signoff_role(self, state: dict[str, Any], gate: str, as_role: str | None,
                      required: list[str], by: Who) -> str:
        """The required role this sign-off fills: the one asked for, or the first the
        signer holds that nobody has filled yet."""
        done = {s["role"] for s in state["signoffs"]}
        candidates = [as_role] if as_role else [r for r in required if r in by.roles]
        if not candidates or any(c not in required or c not in by.roles for c in candidates):
            raise NotAuthorisedError(
                f"{by.actor_name} cannot sign off {gate}: it needs the "
                f"{' / '.join(required)} role(s) and they hold {', '.join(by.roles) or 'none'}")
        open_roles = [c for c in candidates if c not in done]
        if not open_roles:
            raise InvalidStateError(f"the {' / '.join(candidates)} sign-off for {gate} is already given")
        return open_roles[0]

    @staticmethod
    def _all_signed(state: dict[str, Any], required: list[str]) -> bool:
        approved = {s["role"] for s in state["signoffs"] if s["decision"] != "rejected"}
        return set(required) <= approved

    def _pass_gate(self, gate: str, by: Who) -> None:
        state = self.gates[gate]
        conditions = [s["conditions"] for s in state["signoffs"] if s["conditions"]]
        self.trigger_event(self.GatePassed, gate=gate, round=state["round"],
                           conditions=conditions, **by.signed(APPROVAL))
        if gate == GATES[-1]:
            self.trigger_event(self.Closed, reason=f"{gate} ({GATE_NAMES[gate]}) passed",
                               **by.signed(RESPONSIBILITY))

    # Change requests ----------------------------------------------------------------------

    def submit_change_request(self, *, title: str, description: str, justification: str,
                              cost_impacts: list[dict[str, Any]],
                              schedule_impacts: list[dict[str, Any]], scope_impact: str,
                              deliverables: list[dict[str, Any]], by: Who) -> str:
        self.check_open()
        cost = [self._cost_impact(i) for i in v.items(cost_impacts, "cost_impacts", what="impacts")]
        schedule = [self._schedule_impact(i)
                    for i in v.items(schedule_impacts, "schedule_impacts", what="impacts")]
        added = [self._new_deliverable(d) for d in v.items(deliverables, "deliverables", what="deliverables")]
        _check_unique([c["line"] for c in cost], "cost_impacts", "line")
        _check_unique([s["milestone"] for s in schedule], "schedule_impacts", "milestone")
        _check_unique([d["deliverable"] for d in added], "deliverables", "deliverable")
        scope = text(scope_impact, "scope_impact", required=False)
        if not (cost or schedule or added or scope):
            raise ValidationError("a change request needs a cost, schedule or scope impact")
        cr_id = f"CR-{len(self.change_requests) + 1:03d}"
        self.trigger_event(
            self.ChangeRequestSubmitted, cr_id=cr_id, title=text(title, "title", limit=200),
            description=text(description, "description"),
            justification=text(justification, "justification"), cost_impacts=cost,
            schedule_impacts=schedule, scope_impact=scope, deliverables=added,
            **by.signed(AUTHORSHIP))
        return cr_id

    def _cost_impact(self, impact: dict[str, Any]) -> dict[str, Any]:
        line = v.code(impact.get("line"), "line")
        amount = money(impact.get("amount"), "amount")
        if amount == ZERO:
            raise ValidationError(f"the cost impact on {line} is zero", field="amount")
        if line in self.lines:
            return {"line": line, "amount": amount, "name": None, "category": None}
        if amount < ZERO:
            raise NotFoundError(f"{self.code} has no budget line {line} to reduce", field="line")
        return {"line": line, "amount": amount, "name": text(impact.get("name"), "name", limit=200),
                "category": v.choice(impact.get("category"), "category", CATEGORIES)}

    def _schedule_impact(self, impact: dict[str, Any]) -> dict[str, Any]:
        key = v.code(impact.get("milestone"), "milestone")
        state = self.milestone(key)
        changes = _milestone_changes(
            state, name=None, planned_start=impact.get("planned_start"),
            planned_finish=impact.get("planned_finish"), budgeted_value=impact.get("budgeted_value"))
        return {"milestone": key, **changes}

    def _new_deliverable(self, item: dict[str, Any]) -> dict[str, Any]:
        key = v.code(item.get("deliverable"), "deliverable")
        if key in self.deliverables:
            raise DuplicateError(f"deliverable {key} already exists", field="deliverable")
        return {"deliverable": key, "name": text(item.get("name"), "name", limit=200),
                "description": text(item.get("description"), "description", required=False)}

    def approve_change_request(self, *, cr_id: str, approver_role: str, by: Who, reason: str) -> None:
        self.check_open()
        cr = self.change_request(cr_id)
        self.check_status(cr, ("pending",), f"change request {cr_id}")
        self.check_not_submitter(cr, "submitted_by", by, f"approve {cr_id}")
        self.check_change_still_applies(cr)
        self.trigger_event(self.ChangeRequestApproved, cr_id=cr_id, role=approver_role,
                           reason=text(reason, "reason", required=False), **by.signed(APPROVAL))

    def check_change_still_applies(self, cr: dict[str, Any]) -> None:
        """The baseline may have moved since submission: the impacts must still fit."""
        for impact in cr["cost_impacts"]:
            if impact["category"] is not None and impact["line"] in self.lines:
                raise DuplicateError(f"budget line {impact['line']} was created meanwhile; "
                                     "resubmit the change request")
            if impact["category"] is None and impact["line"] not in self.lines:
                raise NotFoundError(f"budget line {impact['line']} no longer exists")
            if impact["amount"] < ZERO:
                self.check_can_draw(impact["line"], -impact["amount"], "this change")
        for impact in cr["schedule_impacts"]:
            state = self.milestone(impact["milestone"])
            merged = {**state, **impact}
            v.period(merged["planned_start"], merged["planned_finish"], "planned_start", "planned_finish")
        for item in cr["deliverables"]:
            if item["deliverable"] in self.deliverables:
                raise DuplicateError(f"deliverable {item['deliverable']} was added meanwhile")

    def apply_change_request(self, cr_id: str) -> None:
        """Called by ChangeRequestApproved.apply: the approved impacts enter the baseline."""
        cr = self.change_requests[cr_id]
        for impact in cr["cost_impacts"]:
            if impact["category"] is not None:
                self.lines[impact["line"]] = _new_line(impact["name"], impact["category"], ZERO)
            line = self.lines[impact["line"]]
            line["cr_adjusted"] += impact["amount"]
            line["budget"] += impact["amount"]
        for impact in cr["schedule_impacts"]:
            changes = {k: val for k, val in impact.items() if k != "milestone"}
            self.milestones[impact["milestone"]].update(_copy(changes))
        for item in cr["deliverables"]:
            self.deliverables[item["deliverable"]] = {
                "name": item["name"], "description": item["description"], "change_request": cr_id}

    def reject_change_request(self, *, cr_id: str, by: Who, reason: str) -> None:
        self.check_open()
        cr = self.change_request(cr_id)
        self.check_status(cr, ("pending",), f"change request {cr_id}")
        self.check_not_submitter(cr, "submitted_by", by, f"reject {cr_id}")
        self.trigger_event(self.ChangeRequestRejected, cr_id=cr_id, reason=reason_text(reason),
                           **by.signed(REVIEW))

    def withdraw_change_request(self, *, cr_id: str, by: Who, reason: str) -> None:
        self.check_open()
        cr = self.change_request(cr_id)
        self.check_status(cr, ("pending",), f"change request {cr_id}")
        self.trigger_event(self.ChangeRequestWithdrawn, cr_id=cr_id, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    # Budget transfers ----------------------------------------------------------------------

    def request_transfer(self, *, from_line: str, to_line: str, amount: Any, by: Who,
                         reason: str) -> str:
        self.check_open()
        self.line(from_line)
        self.line(to_line)
        if from_line == to_line:
            raise ValidationError("a transfer needs two different lines", field="to_line")
        amount = positive(amount)
        self.check_can_draw(from_line, amount, "this transfer")
        transfer_id = f"TR-{len(self.transfers) + 1:03d}"
        self.trigger_event(self.BudgetTransferRequested, transfer_id=transfer_id,
                           from_line=from_line, to_line=to_line, amount=amount,
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))
        return transfer_id

    def approve_transfer(self, *, transfer_id: str, by: Who, reason: str) -> None:
        self.check_open()
        t = self.transfer(transfer_id)
        self.check_status(t, ("pending",), f"transfer {transfer_id}")
        self.check_not_submitter(t, "requested_by", by, f"approve transfer {transfer_id}")
        self.check_can_draw(t["from_line"], t["amount"], "this transfer")
        self.trigger_event(self.BudgetTransferApproved, transfer_id=transfer_id,
                           reason=text(reason, "reason", required=False), **by.signed(APPROVAL))

    def reject_transfer(self, *, transfer_id: str, by: Who, reason: str) -> None:
        self.check_open()
        t = self.transfer(transfer_id)
        self.check_status(t, ("pending",), f"transfer {transfer_id}")
        self.check_not_submitter(t, "requested_by", by, f"reject transfer {transfer_id}")
        self.trigger_event(self.BudgetTransferRejected, transfer_id=transfer_id,
                           reason=reason_text(reason), **by.signed(REVIEW))

    # Approvals shared by commitments and expenditures -------------------------------------

    def _approval_step(self, item: dict[str, Any], rules: Rules, by: Who) -> tuple[str, bool]:
        """(role this approval counts as, whether it completes the approvals needed).

        Up to the dual threshold one fiscal officer approves; above it two different
        fiscal officers; above the sponsor threshold the sponsor approves after them."""
        if any(a["actor_id"] == by.actor_id for a in item["approvals"]):
            raise SegregationOfDutiesError(
                f"{by.actor_name} already approved this; the next approval must come from a different person")
        amount = item["amount"]
        fiscal_needed = rules.fiscal_approvals_needed(amount)
        fiscal_done = sum(1 for a in item["approvals"] if a["role"] == "fiscal")
        sponsor_needed = rules.sponsor_needed(amount)
        if fiscal_done >= fiscal_needed and sponsor_needed:
            role = self._sponsor_turn(amount, rules, by)
        else:
            # Also when a policy change lowered the threshold while this waited: the next
            # fiscal approval then completes it.
            role = self._fiscal_turn(amount, fiscal_needed, fiscal_done, sponsor_needed, by)
            fiscal_done += 1
        return role, fiscal_done >= fiscal_needed and (not sponsor_needed or role == "sponsor")

    @staticmethod
    def _fiscal_turn(amount: Decimal, needed: int, done: int, sponsor_needed: bool, by: Who) -> str:
        if "fiscal" in by.roles:
            return "fiscal"
        if sponsor_needed and "sponsor" in by.roles:
            raise ThresholdApprovalsError(
                f"{fmt(amount)} needs {needed} fiscal approval(s) before the sponsor's; "
                f"{done} given so far")
        raise NotAuthorisedError(f"{by.actor_name} may not approve this: it needs a fiscal officer")

    @staticmethod
    def _sponsor_turn(amount: Decimal, rules: Rules, by: Who) -> str:
        if "sponsor" in by.roles:
            return "sponsor"
        raise ThresholdApprovalsError(
            f"the fiscal approvals are complete; {fmt(amount)} is over "
            f"{fmt(rules.sponsor_threshold)} and now needs the sponsor's approval")

    # Commitments ---------------------------------------------------------------------------

    def submit_commitment(self, *, po_number: str, vendor: str, line: str, amount: Any,
                          description: str, by: Who) -> str:
        self.check_open()
        po = v.code(po_number, "po_number")
        if po in self.commitments:
            raise DuplicateError(f"purchase order {po} already exists on {self.code}", field="po_number")
        self.line(line)
        self.trigger_event(self.CommitmentSubmitted, po_number=po,
                           vendor=text(vendor, "vendor", limit=200), line=line,
                           amount=positive(amount),
                           description=text(description, "description", required=False),
                           **by.signed(AUTHORSHIP))
        return po

    def approve_commitment(self, *, po_number: str, rules: Rules, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("pending",), f"purchase order {po_number}")
        self.check_not_submitter(c, "submitted_by", by, f"approve purchase order {po_number}")
        role, completes = self._approval_step(c, rules, by)
        self.check_can_draw(c["line"], c["amount"], "approval")
        self.trigger_event(self.CommitmentApproved, po_number=po_number, role=role,
                           reason=text(reason, "reason", required=False),
                           completes_approval=completes, **by.signed(APPROVAL))

    def reject_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("pending",), f"purchase order {po_number}")
        self.check_not_submitter(c, "submitted_by", by, f"reject purchase order {po_number}")
        self.trigger_event(self.CommitmentRejected, po_number=po_number,
                           reason=reason_text(reason), **by.signed(REVIEW))

    def close_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("open",), f"purchase order {po_number}")
        self.trigger_event(self.CommitmentClosed, po_number=po_number, released=c["remaining"],
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def release_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("open",), f"purchase order {po_number}")
        self.trigger_event(self.CommitmentReleased, po_number=po_number, released=c["remaining"],
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def end_commitment(self, po_number: str, status: str, released: Decimal, event: Any) -> None:
        """Called by CommitmentClosed/Released.apply: the rest goes back to the line."""
        c = self.commitments[po_number]
        c.update(status=status, remaining=ZERO, released=released, decided_by=event.actor_id,
                 reason=event.reason)
        self.lines[c["line"]]["committed"] -= released

    def move_commitment(self, po_number: str, delta: Decimal) -> None:
        """Called by expenditure events: liquidate (delta < 0) or restore an open PO."""
        c = self.commitments[po_number]
        c["remaining"] += delta
        c["liquidated"] -= delta
        self.lines[c["line"]]["committed"] += delta

    # Expenditures --------------------------------------------------------------------------

    def submit_expenditure(self, *, line: str, amount: Any, vendor: str, invoice_number: str,
                           invoice_date: Any, description: str, po_number: str | None,
                           document_sha256: str | None, by: Who) -> str:
        self.check_open()
        self.line(line)
        vendor = text(vendor, "vendor", limit=200)
        invoice = text(invoice_number, "invoice_number", limit=60)
        self.check_invoice_unique(vendor, invoice)
        po = self._cited_po(po_number, line)
        expenditure_id = f"EXP-{len(self.expenditures) + 1:04d}"
        self.trigger_event(
            self.ExpenditureSubmitted, expenditure_id=expenditure_id, line=line,
            amount=positive(amount), vendor=vendor, invoice_number=invoice,
            invoice_date=v.day(invoice_date, "invoice_date"),
            description=text(description, "description"), po_number=po,
            document_sha256=v.sha256(document_sha256, "document_sha256"), **by.signed(AUTHORSHIP))
        return expenditure_id

    def check_invoice_unique(self, vendor: str, invoice: str) -> None:
        """The same vendor invoice must not be paid twice."""
        wanted = (v.match_key(vendor), v.match_key(invoice))
        for key, e in self.expenditures.items():
            same = (v.match_key(e["vendor"]), v.match_key(e["invoice_number"])) == wanted
            if same and e["status"] != "rejected":
                raise DuplicateError(f"invoice {invoice} of {vendor} is already recorded as {key}",
                                     field="invoice_number")

    def _cited_po(self, po_number: str | None, line: str) -> str | None:
        if po_number in (None, ""):
            return None
        c = self.commitment(po_number)  # type: ignore[arg-type]
        self.check_status(c, ("open",), f"purchase order {po_number}")
        if c["line"] != line:
            raise ValidationError(f"purchase order {po_number} is on line {c['line']}, not {line}",
                                  field="po_number")
        return po_number

    def approve_expenditure(self, *, expenditure_id: str, rules: Rules, by: Who, reason: str) -> None:
        self.check_open()
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("pending",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"approve {expenditure_id}")
        role, completes = self._approval_step(e, rules, by)
        liquidates = self._liquidation(e)
        self.check_can_draw(e["line"], e["amount"] - liquidates, "approval")
        self.trigger_event(self.ExpenditureApproved, expenditure_id=expenditure_id, role=role,
                           reason=text(reason, "reason", required=False),
                           completes_approval=completes,
                           liquidates=liquidates if completes else ZERO, **by.signed(APPROVAL))

    def _liquidation(self, e: dict[str, Any]) -> Decimal:
        """How much of the cited PO this invoice uses up (only while the PO is open)."""
        if not e["po_number"]:
            return ZERO
        c = self.commitments[e["po_number"]]
        return min(e["amount"], c["remaining"]) if c["status"] == "open" else ZERO

    def reject_expenditure(self, *, expenditure_id: str, by: Who, reason: str) -> None:
        self.check_open()
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("pending",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"reject {expenditure_id}")
        self.trigger_event(self.ExpenditureRejected, expenditure_id=expenditure_id,
                           reason=reason_text(reason), **by.signed(REVIEW))

    def reverse_expenditure(self, *, expenditure_id: str, by: Who, reason: str) -> None:
        # Deliberately no check_open(): corrections stay possible after closeout.
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("approved",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"reverse {expenditure_id}")
        po = self.commitments.get(e["po_number"] or "")
        restores = e["liquidated"] if po is not None and po["status"] == "open" else ZERO
        self.trigger_event(self.ExpenditureReversed, expenditure_id=expenditure_id,
                           reason=reason_text(reason), restores=restores,
                           **by.signed(RESPONSIBILITY))

    # Progress -------------------------------------------------------------------------------

    def report_progress(self, *, milestone: str, percent: int, as_of: Any, note: str, by: Who) -> None:
        self.check_open()
        state = self.milestone(milestone)
        if state["accepted"]:
            raise InvalidStateError(f"milestone {milestone} is already accepted")
        self.trigger_event(self.ProgressReported, milestone=milestone,
                           percent=v.whole(percent, "percent", 0, 100),
                           as_of=v.day(as_of, "as_of"), note=text(note, "note", required=False),
                           **by.signed(AUTHORSHIP))

    def accept_milestone(self, *, milestone: str, accepted_on: Any, by: Who, reason: str) -> None:
        self.check_open()
        state = self.milestone(milestone)
        if state["accepted"]:
            raise InvalidStateError(f"milestone {milestone} is already accepted")
        if state["percent"] != 100:
            raise InvalidStateError(
                f"milestone {milestone} is {state['percent']}% complete; only a milestone "
                "reported 100% complete can be accepted")
        self.check_not_submitter(state, "percent_by", by, f"accept milestone {milestone}")
        self.trigger_event(self.MilestoneAccepted, milestone=milestone,
                           accepted_on=v.day(accepted_on, "accepted_on"),
                           reason=text(reason, "reason", required=False), **by.signed(APPROVAL))

    # Risks and issues ------------------------------------------------------------------------

    def raise_risk(self, *, title: str, probability: int, impact: int, owner: str,
                   mitigation: str, description: str, by: Who) -> str:
        self.check_open()
        risk_id = f"R-{len(self.risks) + 1:03d}"
        self.trigger_event(
            self.RiskRaised, risk_id=risk_id, title=text(title, "title", limit=200),
            description=text(description, "description", required=False),
            probability=v.whole(probability, "probability", 1, 5),
            impact=v.whole(impact, "impact", 1, 5), owner=text(owner, "owner", limit=120),
            mitigation=text(mitigation, "mitigation"), **by.signed(AUTHORSHIP))
        return risk_id

    def update_risk(self, *, risk_id: str, probability: int | None, impact: int | None,
                    owner: str | None, mitigation: str | None, status: str | None, by: Who,
                    reason: str) -> None:
        self.check_open()
        risk = self.risk(risk_id)
        self.check_status(risk, RISK_STATUSES, f"risk {risk_id}")
        changes = _risk_changes(probability, impact, owner, mitigation, status)
        changes = {k: val for k, val in changes.items() if risk[k] != val}
        if not changes:
            raise ValidationError("the update changes nothing")
        self.trigger_event(self.RiskUpdated, risk_id=risk_id, changes=changes,
                           previous={k: risk[k] for k in changes}, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    def close_risk(self, *, risk_id: str, by: Who, reason: str) -> None:
        self.check_open()
        self.check_status(self.risk(risk_id), RISK_STATUSES, f"risk {risk_id}")
        self.trigger_event(self.RiskClosed, risk_id=risk_id, reason=reason_text(reason),
                           **by.signed(AUTHORSHIP))

    def raise_issue(self, *, title: str, description: str, severity: str, owner: str, by: Who) -> str:
        self.check_open()
        issue_id = f"I-{len(self.issues) + 1:03d}"
        self.trigger_event(
            self.IssueRaised, issue_id=issue_id, title=text(title, "title", limit=200),
            description=text(description, "description"),
            severity=v.choice(severity, "severity", SEVERITIES),
            owner=text(owner, "owner", limit=120), **by.signed(AUTHORSHIP))
        return issue_id

    def escalate_issue(self, *, issue_id: str, to: str, by: Who, reason: str) -> None:
        self.check_open()
        self.check_status(self.issue(issue_id), ("open", "escalated"), f"issue {issue_id}")
        self.trigger_event(self.IssueEscalated, issue_id=issue_id, to=text(to, "to", limit=120),
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))

    def resolve_issue(self, *, issue_id: str, resolution: str, by: Who) -> None:
        self.check_open()
        self.check_status(self.issue(issue_id), ("open", "escalated"), f"issue {issue_id}")
        self.trigger_event(self.IssueResolved, issue_id=issue_id,
                           resolution=text(resolution, "resolution"), **by.signed(AUTHORSHIP))

    # Status reports ---------------------------------------------------------------------------

    def publish_status_report(self, *, period_start: Any, period_end: Any, overall: str,
                              schedule: str, budget: str, scope: str, summary: str, by: Who) -> str:
        self.check_open()
        start, end = v.day(period_start, "period_start"), v.day(period_end, "period_end")
        v.period(start, end, "period_start", "period_end")
        report_id = f"SR-{len(self.status_reports) + 1:03d}"
        self.trigger_event(
            self.StatusReportPublished, report_id=report_id, period_start=start, period_end=end,
            overall=v.choice(overall, "overall", RAG), schedule=v.choice(schedule, "schedule", RAG),
            budget=v.choice(budget, "budget", RAG), scope=v.choice(scope, "scope", RAG),
            summary=text(summary, "summary"), figures=figures(self, end),
            **by.signed(AUTHORSHIP))
        return report_id


# State shapes and pure helpers -------------------------------------------------------------


def _new_gate() -> dict[str, Any]:
    return {"status": "not-requested", "round": 0, "requested_by": None, "requested_at": None,
            "artifacts": [], "note": "", "signoffs": [], "required_roles": [], "passed_at": None,
            "conditions": [], "conditions_met": []}


def _new_line(name: str, category: str, amount: Decimal) -> dict[str, Any]:
    return {"name": name, "category": category, "original": amount, "budget": amount,
            "transferred": ZERO, "cr_adjusted": ZERO, "committed": ZERO, "spent": ZERO,
            "pending": ZERO}


def _approval(event: Any) -> dict[str, Any]:
    return {"actor_id": event.actor_id, "actor_name": event.actor_name, "role": event.role,
            "reason": event.reason, "at": event.timestamp}


def _project_code(code: Any) -> str:
    if not isinstance(code, str) or not _PROJECT_CODE.match(code.strip()):
        raise ValidationError(f"project code {code!r} must look like IT-2026-014", field="code")
    return code.strip()


def _charter_value(field: str, value: Any) -> Any:
    if field in ("start_date", "target_finish"):
        return v.day(value, field)
    if field == "funding_type":
        return v.choice(value, field, FUNDING_TYPES)
    if field == "objectives":
        value = v.items(value, field, at_least=1, what="objectives")
        return [text(o, "objectives", limit=500) for o in value]
    limit = 4000 if field == "scope_statement" else 200
    return text(value, field, limit=limit)


def _check_charter_dates(charter: dict[str, Any]) -> None:
    v.period(charter["start_date"], charter["target_finish"], "start_date", "target_finish")


def _milestone_changes(state: dict[str, Any], *, name: Any, planned_start: Any,
                       planned_finish: Any, budgeted_value: Any) -> dict[str, Any]:
    """The effective changes to a milestone (values that differ), validated together."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = text(name, "name", limit=200)
    if planned_start is not None:
        changes["planned_start"] = v.day(planned_start, "planned_start")
    if planned_finish is not None:
        changes["planned_finish"] = v.day(planned_finish, "planned_finish")
    if budgeted_value is not None:
        changes["budgeted_value"] = non_negative(budgeted_value, "budgeted_value")
    changes = {k: val for k, val in changes.items() if state[k] != val}
    if not changes:
        raise ValidationError("the milestone change changes nothing", field="milestone")
    merged = {**state, **changes}
    v.period(merged["planned_start"], merged["planned_finish"], "planned_start", "planned_finish")
    return changes


def _risk_changes(probability: Any, impact: Any, owner: Any, mitigation: Any,
                  status: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if probability is not None:
        changes["probability"] = v.whole(probability, "probability", 1, 5)
    if impact is not None:
        changes["impact"] = v.whole(impact, "impact", 1, 5)
    if owner is not None:
        changes["owner"] = text(owner, "owner", limit=120)
    if mitigation is not None:
        changes["mitigation"] = text(mitigation, "mitigation")
    if status is not None:
        changes["status"] = v.choice(status, "status", RISK_STATUSES)
    return changes


def _artifacts(artifacts: Any) -> list[dict[str, Any]]:
    if not isinstance(artifacts, list) or not artifacts:
        raise ValidationError("a gate review needs at least one artifact", field="artifacts")
    v.items(artifacts, "artifacts", what="artifacts")
    out = []
    for a in artifacts:
        if not isinstance(a, dict):
            raise ValidationError("each artifact is a name with an optional sha256 and uri",
                                  field="artifacts")
        out.append({"name": text(a.get("name"), "artifacts", limit=200),
                    "sha256": v.sha256(a.get("sha256"), "artifacts"),
                    "uri": text(a.get("uri"), "artifacts", required=False, limit=500)})
    return out


def _check_unique(keys: list[str], field: str, kind: str) -> None:
    if len(keys) != len(set(keys)):
        raise ValidationError(f"each {kind} may appear only once in {field}", field=field)
