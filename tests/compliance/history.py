"""Synthetic histories for the compliance tests: real event classes, written directly.

The compliance check runs over history, including what the services would refuse today, so
these histories are built from the events themselves, with no service in the way. Each
`emit` appends `(position, recorded_at, event)` to `History.log` and returns the position;
the clock only moves forward (`tick`). A shadow `Project` per project is folded from the
same events so defaults (next expenditure id, PO liquidation, status report figures) match
what the domain would have recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.compliance import Finding, evaluate
from domain.directory import DIRECTORY_ID, Directory
from domain.earned_value import figures
from domain.money import ZERO
from domain.policy import DEFAULT_RULES, POLICY_ID, Policy
from domain.project import Project, project_id

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
CODE = "IT-2026-014"
SHA = "ab" * 32
NAMES = {
    "ledger-root": "Ledger root key", "admin": "Ada Admin", "pm": "Pat Manager",
    "pm2": "Priya Manager", "fiscal": "Fay Fiscal", "fiscal2": "Finn Fiscal",
    "sponsor": "Sam Sponsor", "pmo": "Polly Lead", "auditor": "Otto Auditor",
}
CAST = [("admin", "admin"), ("pm", "pm"), ("pm2", "pm"), ("fiscal", "fiscal"),
        ("fiscal2", "fiscal"), ("sponsor", "sponsor"), ("pmo", "pmo"), ("auditor", "auditor")]
SIGNER_OF_ROLE = {"pmo": "pmo", "sponsor": "sponsor", "fiscal": "fiscal"}


def d(text: str) -> date:
    return date.fromisoformat(text)


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class History:
    """A log under construction: a directory with the usual cast and the default policy."""

    def __init__(self, start: datetime = T0, *, cast: bool = True) -> None:
        self.log: list[tuple[int, datetime, object]] = []
        self.clock = start
        self.versions: dict[UUID, int] = {}
        self.grants: dict[tuple[str, str], int] = {}
        self.policy_rules = dict(DEFAULT_RULES)
        if cast:
            self.emit(Directory.Opened, DIRECTORY_ID, "ledger-root", topic=Directory,
                      meaning="responsibility")
            for username, role in CAST:
                self.enrol(username, by="ledger-root" if username == "admin" else "admin")
                self.grant(username, role, by="ledger-root" if username == "admin" else "admin")
            self.emit(Policy.Adopted, POLICY_ID, "ledger-root", topic=Policy,
                      meaning="responsibility", rules=dict(DEFAULT_RULES))

    # Plumbing ----------------------------------------------------------------------------

    def tick(self, **delta: float) -> None:
        self.clock += timedelta(**delta)

    @property
    def today(self) -> date:
        return self.clock.date()

    def emit(self, cls: type, oid: UUID, by: str, *, topic: type | None = None,
             meaning: str = "authorship", **fields: Any) -> int:
        version = self.versions.get(oid, 0) + 1
        self.versions[oid] = version
        if issubclass(cls, Aggregate.Created):
            fields["originator_topic"] = get_topic(topic)
        event = cls(originator_id=oid, originator_version=version, timestamp=self.clock,
                    actor_id=by, actor_name=NAMES.get(by, by), meaning=meaning, **fields)
        position = self.log[-1][0] + 1 if self.log else 1
        self.log.append((position, self.clock, event))
        self.clock += timedelta(seconds=1)
        return position

    def findings(self, **kw: Any) -> list[Finding]:
        kw.setdefault("today", self.today)
        return evaluate(self.log, **kw)

    def of(self, rule_id: str, **kw: Any) -> list[tuple[str | None, tuple[int, ...]]]:
        """(project, evidence) of each finding of `rule_id`."""
        return [(f.project, f.evidence) for f in self.findings(**kw) if f.rule_id == rule_id]

    # Directory and policy ----------------------------------------------------------------

    def enrol(self, username: str, *, by: str = "admin") -> int:
        return self.emit(Directory.PersonEnrolled, DIRECTORY_ID, by, meaning="responsibility",
                         username=username, name=NAMES.get(username, username),
                         email="", key_id=f"key-{username}", reason="enrolled")

    def grant(self, username: str, role: str, *, project: str | None = None,
              by: str = "admin") -> int:
        pos = self.emit(Directory.RoleGranted, DIRECTORY_ID, by, meaning="responsibility",
                        username=username, role=role, project=project, reason="granted")
        self.grants[(username, role)] = pos
        return pos

    def revoke(self, username: str, role: str, *, project: str | None = None,
               by: str = "admin") -> int:
        return self.emit(Directory.RoleRevoked, DIRECTORY_ID, by, meaning="responsibility",
                         username=username, role=role, project=project, reason="revoked")

    def deactivate(self, username: str, *, by: str = "admin") -> int:
        return self.emit(Directory.PersonDeactivated, DIRECTORY_ID, by, meaning="responsibility",
                         username=username, reason="left")

    def change_policy(self, *, by: str = "pmo", **changes: Any) -> int:
        previous = {k: self.policy_rules[k] for k in changes}
        self.policy_rules.update(changes)
        return self.emit(Policy.Changed, POLICY_ID, by, meaning="responsibility",
                         changes=changes, previous=previous, reason="policy review")

    def project(self, code: str = CODE, **kw: Any) -> Proj:
        return Proj(self, code, **kw)


class Proj:
    """One project's events, with a shadow aggregate for the defaults."""

    def __init__(self, h: History, code: str, *, start: date = date(2025, 1, 1),
                 finish: date = date(2026, 6, 30), by: str = "pm") -> None:
        self.h, self.code, self.id = h, code, project_id(code)
        charter = dict(
            title="Online permits portal", sponsor="sponsor", project_manager="pm",
            business_relationship_manager="Bea Relations", objectives=["Permits online"],
            scope_statement="Permits", start_date=start, target_finish=finish,
            fund="General Fund", cost_centre="CC-4100", funding_type="capital")
        self.chartered = self._emit(Project.Chartered, by, topic=Project, code=code,
                                    currency="USD", charter=charter)

    def _emit(self, cls: type, by: str, *, meaning: str = "authorship", **fields: Any) -> int:
        pos = self.h.emit(cls, self.id, by, meaning=meaning, **fields)
        event = self.h.log[-1][2]
        if isinstance(event, Project.Created):
            self.agg = event.mutate(None)
        else:
            try:
                event.apply(self.agg)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - deliberately inconsistent histories
                pass
        return pos

    # Baseline ------------------------------------------------------------------------------

    def line(self, line: str, amount: Any, *, category: str = "hardware", by: str = "pm") -> int:
        return self._emit(Project.BudgetLineAdded, by, line=line, name=f"{line} line",
                          category=category, amount=money(amount))

    def revise_line(self, line: str, amount: Any, *, by: str = "pm") -> int:
        previous = self.agg.lines[line]["original"]
        return self._emit(Project.BudgetLineRevised, by, line=line,
                          changes={"amount": money(amount)}, previous={"amount": previous},
                          reason="re-estimate")

    def milestone(self, key: str, start: date, finish: date, value: Any, *, by: str = "pm") -> int:
        return self._emit(Project.MilestoneAdded, by, milestone=key, name=f"{key} work",
                          planned_start=start, planned_finish=finish, budgeted_value=money(value))

    def revise_milestone(self, key: str, *, by: str = "pm", **changes: Any) -> int:
        previous = {k: self.agg.milestones[key][k] for k in changes}
        return self._emit(Project.MilestoneRevised, by, milestone=key, changes=changes,
                          previous=previous, reason="replan")

    def deliverable(self, key: str, *, by: str = "pm", change_request: str | None = None) -> int:
        return self._emit(Project.DeliverableAdded, by, deliverable=key, name=key,
                          description="", change_request=change_request)

    # Money ---------------------------------------------------------------------------------

    def exp(self, amount: Any, *, line: str = "HW-01", vendor: str = "Dell Technologies",
            invoice: str | None = None, invoice_date: date | None = None, po: str | None = None,
            doc: str | None = SHA, by: str = "pm") -> int:
        n = len(self.agg.expenditures) + 1
        return self._emit(Project.ExpenditureSubmitted, by, expenditure_id=f"EXP-{n:04d}",
                          line=line, amount=money(amount), vendor=vendor,
                          invoice_number=invoice or f"INV-{n}",
                          invoice_date=invoice_date or self.h.today, description="servers",
                          po_number=po, document_sha256=doc)

    def approve_exp(self, exp_id: str, *, by: str = "fiscal", role: str = "fiscal",
                    completes: bool = True, liquidates: Any = None) -> int:
        if liquidates is None:
            e = self.agg.expenditures[exp_id]
            c = self.agg.commitments.get(e["po_number"] or "")
            open_po = c is not None and c["status"] == "open"
            liquidates = min(e["amount"], c["remaining"]) if open_po and completes else ZERO
        return self._emit(Project.ExpenditureApproved, by, meaning="approval",
                          expenditure_id=exp_id, role=role, reason="", completes_approval=completes,
                          liquidates=money(liquidates))

    def reject_exp(self, exp_id: str, *, by: str = "fiscal") -> int:
        return self._emit(Project.ExpenditureRejected, by, meaning="review",
                          expenditure_id=exp_id, reason="not ours")

    def reverse_exp(self, exp_id: str, *, by: str = "fiscal") -> int:
        e = self.agg.expenditures[exp_id]
        c = self.agg.commitments.get(e["po_number"] or "")
        restores = e["liquidated"] if c is not None and c["status"] == "open" else ZERO
        return self._emit(Project.ExpenditureReversed, by, meaning="responsibility",
                          expenditure_id=exp_id, reason="posted in error", restores=restores)

    def po(self, po: str, amount: Any, *, line: str = "HW-01", vendor: str = "Dell Technologies",
           by: str = "pm") -> int:
        return self._emit(Project.CommitmentSubmitted, by, po_number=po, vendor=vendor,
                          line=line, amount=money(amount), description="")

    def approve_po(self, po: str, *, by: str = "fiscal", role: str = "fiscal",
                   completes: bool = True) -> int:
        return self._emit(Project.CommitmentApproved, by, meaning="approval", po_number=po,
                          role=role, reason="", completes_approval=completes)

    def transfer(self, from_line: str, to_line: str, amount: Any, *, by: str = "pm") -> int:
        n = len(self.agg.transfers) + 1
        return self._emit(Project.BudgetTransferRequested, by, transfer_id=f"TR-{n:03d}",
                          from_line=from_line, to_line=to_line, amount=money(amount),
                          reason="rebalance")

    def approve_transfer(self, transfer_id: str, *, by: str = "fiscal", role: str = "fiscal",
                         completes: bool = True) -> int:
        return self._emit(Project.BudgetTransferApproved, by, meaning="approval",
                          transfer_id=transfer_id, role=role, reason="", completes_approval=completes)

    def cr(self, *, cost: list[tuple[str, Any]] = (), schedule: list[dict[str, Any]] = (),
           by: str = "pm") -> int:
        n = len(self.agg.change_requests) + 1
        impacts = [{"line": line, "amount": money(a), "name": None, "category": None}
                   for line, a in cost]
        return self._emit(Project.ChangeRequestSubmitted, by, cr_id=f"CR-{n:03d}",
                          title=f"Change {n}", description="change", justification="needed",
                          cost_impacts=impacts, schedule_impacts=list(schedule),
                          scope_impact="", deliverables=[])

    def approve_cr(self, cr_id: str, *, by: str = "sponsor", role: str = "sponsor") -> int:
        return self._emit(Project.ChangeRequestApproved, by, meaning="approval", cr_id=cr_id,
                          role=role, reason="")

    # Gates ----------------------------------------------------------------------------------

    def request(self, gate: str, *, by: str = "pm", required: list[str] | None = None) -> int:
        rnd = self.agg.gates[gate]["round"] + 1
        roles = required if required is not None else self.h.policy_rules["gate_signoff_roles"][gate]
        return self._emit(Project.GateReviewRequested, by, gate=gate, round=rnd,
                          artifacts=[{"name": f"{gate}.pdf", "sha256": None, "uri": ""}],
                          note="", required_roles=sorted(roles))

    def signoff(self, gate: str, *, by: str, role: str, decision: str = "approved",
                conditions: str = "") -> int:
        g = self.agg.gates[gate]
        return self._emit(Project.GateSignedOff, by, meaning="approval", gate=gate,
                          round=g["round"], role=role, decision=decision, conditions=conditions,
                          reason="", required_roles=list(g["required_roles"]))

    def passed(self, gate: str, *, by: str = "pmo") -> int:
        g = self.agg.gates[gate]
        conditions = [s["conditions"] for s in g["signoffs"] if s["conditions"]]
        return self._emit(Project.GatePassed, by, meaning="approval", gate=gate,
                          round=g["round"], conditions=conditions)

    def gate(self, gate: str, *, conditions: str = "") -> dict[str, int]:
        """Request, every required sign-off (the first with `conditions`), pass."""
        out = {"request": self.request(gate)}
        roles = self.agg.gates[gate]["required_roles"]
        for i, role in enumerate(roles):
            decision = "approved-with-conditions" if conditions and i == 0 else "approved"
            out[role] = self.signoff(gate, by=SIGNER_OF_ROLE[role], role=role, decision=decision,
                                     conditions=conditions if i == 0 else "")
        out["passed"] = self.passed(gate, by=SIGNER_OF_ROLE[roles[-1]])
        if gate == "G4":
            out["closed"] = self.close(by=SIGNER_OF_ROLE[roles[-1]])
        return out

    def conditions_met(self, gate: str, conditions: list[str], *, by: str = "pmo") -> int:
        return self._emit(Project.GateConditionsMet, by, meaning="approval", gate=gate,
                          round=self.agg.gates[gate]["round"], conditions=conditions,
                          reason="evidence filed")

    def close(self, *, by: str = "pmo") -> int:
        return self._emit(Project.Closed, by, meaning="responsibility", reason="G4 passed")

    # Progress and reports -----------------------------------------------------------------------

    def progress(self, key: str, percent: int, as_of: date | None = None, *, by: str = "pm") -> int:
        return self._emit(Project.ProgressReported, by, milestone=key, percent=percent,
                          as_of=as_of or self.h.today, note="")

    def accept(self, key: str, *, by: str = "sponsor", on: date | None = None) -> int:
        return self._emit(Project.MilestoneAccepted, by, meaning="approval", milestone=key,
                          accepted_on=on or self.h.today, reason="UAT passed")

    def report(self, *, end: date | None = None, overall: str = "green", budget: str = "green",
               schedule: str = "green", by: str = "pm") -> int:
        end = end or self.h.today
        n = len(self.agg.status_reports) + 1
        return self._emit(Project.StatusReportPublished, by, report_id=f"SR-{n:03d}",
                          period_start=end - timedelta(days=27), period_end=end, overall=overall,
                          schedule=schedule, budget=budget, scope="green", summary="on track",
                          figures=figures(self.agg, end))
