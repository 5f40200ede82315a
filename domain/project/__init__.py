"""The project aggregate: charter, gates, baseline, change control, money, progress, risks.

The aggregate and its events live here (their topics are `domain.project:Project.<Event>`,
stored in every ledger); its commands are mixins by area (baseline, gates, change_control,
money, records) and the values they share are in `values`.

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

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import AUTHORSHIP, DomainEvent, SignedEvent, Who
from domain.errors import (
    BaselineLockedError,
    GateOutOfOrderError,
    InvalidStateError,
    NotFoundError,
    OpenItemsError,
    ProjectClosedError,
    SegregationOfDutiesError,
    ValidationError,
    WouldOverdrawError,
)
from domain.money import ZERO, fmt
from domain.policy import GATE_NAMES, GATES
from domain.project.baseline import BaselineCommands
from domain.project.change_control import ChangeControl
from domain.project.gates import GateCommands
from domain.project.money import MoneyCommands
from domain.project.records import RecordCommands
from domain.project.values import (
    _CURRENCY,
    _T,
    CATEGORIES,
    CHARTER_FIELDS,
    DECISIONS,
    FUNDING_TYPES,
    RAG,
    RISK_STATUSES,
    SEVERITIES,
    _approval,
    _charter_value,
    _check_charter_dates,
    _copy,
    _new_gate,
    _new_line,
    _project_code,
    project_id,
)

__all__ = ['Project', 'CATEGORIES', 'CHARTER_FIELDS', 'DECISIONS', 'FUNDING_TYPES', 'RAG', 'RISK_STATUSES', 'SEVERITIES', 'project_id']


class Project(BaselineCommands, GateCommands, ChangeControl, MoneyCommands, RecordCommands, Aggregate):
    """One public-sector IT project, identified by its code (e.g. IT-2026-014)."""

    TOPIC = _T
    # 2: each gate keeps the conditions recorded as met (`conditions_met`).
    # 3: each budget transfer keeps its approvals (transfers follow the thresholds).
    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before conditions could be recorded as met."""
        for gate in state["gates"].values():
            gate.setdefault("conditions_met", [])

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Snapshots taken while one fiscal approval decided every transfer."""
        for transfer in state["transfers"].values():
            transfer.setdefault("approvals", [])

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
                "approvals": [],
            }

    class BudgetTransferApproved(SignedEvent):
        TOPIC = f"{_T}.BudgetTransferApproved"
        # 2: the approval says in which role it counts and whether it completes the
        # approvals the thresholds call for (as an expenditure's does).
        class_version = 2
        transfer_id: str
        role: str
        reason: str
        completes_approval: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Before transfers followed the thresholds, one fiscal approval decided one."""
            state.setdefault("role", "fiscal")
            state.setdefault("completes_approval", True)

        def apply(self, p: Project) -> None:
            t = p.transfers[self.transfer_id]
            t["approvals"].append(_approval(self))
            if not self.completes_approval:
                return
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
