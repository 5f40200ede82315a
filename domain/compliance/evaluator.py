"""The compliance check: every domain event, in log order, judged against the rules.

The commands refuse most of these acts when they arrive; this check runs over history, so
it also sees what was written before a policy change, by someone whose role was since
revoked, or behind the services' back. Each act is judged by the policy in force at that
point of the log (Policy events are tracked as they stream by) and by the roles held at
that point (Directory grants and revocations, likewise). Project state is the `Project`
aggregate itself, folded from the same events, so balances and earned value are the
domain's own.

Time-based rules (pending too long, no recent status report, milestone past its finish,
CPI/SPI red now) are judged as of `today`, a UTC calendar date: by default the current one,
or `now`'s date when only `now` is given. Day counts are whole calendar days between UTC
dates.

Usage, incrementally (a projection calls `apply` once per event, in position order; a
position at or below the last one applied is ignored, so nothing counts twice):

    ev = ComplianceEvaluator(today=date(2026, 3, 1))
    for position, recorded_at, event in log:
        ev.apply(position, recorded_at, event)
    ev.findings()

or all at once: `evaluate(log, today=...)`. Ledger verification faults become findings with
`findings_from_verification(report)`.

Only `findings()` looks at the date (`findings(today=...)` judges another day without a
replay). The evaluator holds plain data and `Project` aggregates, so it pickles: a
projection may keep it with its tracking position and resume from there.

Rule ids, severities and one-line meanings are in `domain.compliance.model.RULES`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.commands import WRITERS, is_approval, is_consequence
from domain.compliance.model import LEDGER_PREFIX, Finding, severity
from domain.compliance.tracking import (
    Approval,
    Item,
    People,
    ProjectTrack,
    Purchase,
    Round,
    Signoff,
    day_of,
    rules_from,
    scope,
)
from domain.directory import Directory
from domain.earned_value import ac, ev, percent_as_of, pv, ratio
from domain.money import ZERO, fmt
from domain.policy import GATES, Policy, Rules
from domain.project import Project

# The actor id the ledger root key signs bootstrap events with (domain.services).
ROOT_ACTOR_ID = "ledger-root"

PM = ("pm",)
# The roles a project act needs come from the command table the services check them by
# (domain/commands.py): the roles of the command that writes the event. Acts whose event
# records the role it was done in (`role`) need that role; a change-request rejection needs
# the change approver role of the policy then in force; consequences of another act
# (GatePassed and Closed follow the last sign-off) need none of their own.
ROLE_RECORDED = {"GateSignedOff", "ChangeRequestApproved", "CommitmentApproved",
                 "ExpenditureApproved"}
APPROVING = {name for name in WRITERS if is_approval(name)}
BASELINE = {
    "DeliverableAdded", "DeliverableRemoved", "BudgetLineAdded", "BudgetLineRevised",
    "BudgetLineRemoved", "MilestoneAdded", "MilestoneRevised", "MilestoneRemoved",
}
FINANCIAL = {
    "ExpenditureSubmitted", "ExpenditureApproved", "ExpenditureRejected", "CommitmentSubmitted",
    "CommitmentApproved", "CommitmentRejected", "CommitmentClosed", "CommitmentReleased",
    "BudgetTransferRequested", "BudgetTransferApproved", "BudgetTransferRejected",
    "BudgetLineAdded", "BudgetLineRevised", "BudgetLineRemoved",
}  # + ChangeRequestApproved when it has cost impacts; ExpenditureReversed stays allowed
MONEY = FINANCIAL | {"ExpenditureReversed", "ChangeRequestApproved"}
BUSINESS_DATE = {"ExpenditureSubmitted": "invoice_date", "ProgressReported": "as_of",
                 "MilestoneAccepted": "accepted_on", "StatusReportPublished": "period_end"}

# The acts `_common` has anything to check for.
_COMMON = APPROVING | set(BUSINESS_DATE) | FINANCIAL | BASELINE

DESCRIBE = {
    "Chartered": "chartered {code}", "CharterAmended": "amended the charter",
    "DeliverableAdded": "added deliverable {deliverable}",
    "DeliverableRemoved": "removed deliverable {deliverable}",
    "BudgetLineAdded": "added budget line {line}", "BudgetLineRevised": "revised budget line {line}",
    "BudgetLineRemoved": "removed budget line {line}",
    "MilestoneAdded": "added milestone {milestone}", "MilestoneRevised": "revised milestone {milestone}",
    "MilestoneRemoved": "removed milestone {milestone}",
    "GateReviewRequested": "requested the {gate} review",
    "GateSignedOff": "signed off {gate} ({decision}) as {role}", "GatePassed": "passed {gate}",
    "GateConditionsMet": "recorded the conditions of {gate} as met",
    "Closed": "closed the project",
    "ChangeRequestSubmitted": "submitted change request {cr_id}",
    "ChangeRequestApproved": "approved change request {cr_id}",
    "ChangeRequestRejected": "rejected change request {cr_id}",
    "ChangeRequestWithdrawn": "withdrew change request {cr_id}",
    "BudgetTransferRequested": "requested budget transfer {transfer_id}",
    "BudgetTransferApproved": "approved budget transfer {transfer_id}",
    "BudgetTransferRejected": "rejected budget transfer {transfer_id}",
    "CommitmentSubmitted": "submitted purchase order {po_number}",
    "CommitmentApproved": "approved purchase order {po_number}",
    "CommitmentRejected": "rejected purchase order {po_number}",
    "CommitmentClosed": "closed purchase order {po_number}",
    "CommitmentReleased": "released purchase order {po_number}",
    "ExpenditureSubmitted": "submitted expenditure {expenditure_id}",
    "ExpenditureApproved": "approved expenditure {expenditure_id}",
    "ExpenditureRejected": "rejected expenditure {expenditure_id}",
    "ExpenditureReversed": "reversed expenditure {expenditure_id}",
    "ProgressReported": "reported progress on milestone {milestone}",
    "MilestoneAccepted": "accepted milestone {milestone}",
    "RiskRaised": "raised risk {risk_id}", "RiskUpdated": "updated risk {risk_id}",
    "RiskClosed": "closed risk {risk_id}", "IssueRaised": "raised issue {issue_id}",
    "IssueEscalated": "escalated issue {issue_id}", "IssueResolved": "resolved issue {issue_id}",
    "StatusReportPublished": "published status report {report_id}",
    "Opened": "opened the directory", "PersonEnrolled": "enrolled {username}",
    "RoleGranted": "granted the {role} role to {username}",
    "RoleRevoked": "revoked the {role} role of {username}",
    "KeyReplaced": "replaced the signing key of {username}",
    "PersonDeactivated": "deactivated {username}",
    "Adopted": "adopted the approval policy", "Changed": "changed the approval policy",
}


class _Attrs(dict):  # type: ignore[type-arg]
    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, key: str) -> Any:
        return getattr(self.event, key, "?")


def describe(event: object) -> str:
    name = type(event).__name__
    template = DESCRIBE.get(name)
    if template is None:
        return "recorded " + re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return template.format_map(_Attrs(event))


def _positions(*items: int | None) -> tuple[int, ...]:
    return tuple(sorted({p for p in items if p is not None}))


def _days_after(day: date, days: int) -> date:
    """`days` after `day`, or the last representable date."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


# Running totals of amounts in cents stay below this, so exact (fewer than the context's 28
# significant digits): a window's total is then the difference of two, exactly its own sum.
_EXACT_TOTALS = Decimal("1E24")


def _running_totals(amounts: list[Decimal]) -> list[Decimal] | None:
    """totals[k] = the sum of amounts[:k] -- or None where a sum could be rounded (huge
    or many-digit amounts), so the caller adds each window up itself."""
    totals, total = [ZERO], ZERO
    for a in amounts:
        if not a.is_finite() or a.as_tuple().exponent < -2:  # type: ignore[operator]
            return None
        total += a
        if not -_EXACT_TOTALS < total < _EXACT_TOTALS:
            return None
        totals.append(total)
    return totals


def _ratio_text(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class ComplianceEvaluator:
    """Compliance findings, maintained one event at a time in log order."""

    def __init__(self, *, today: date | None = None, now: datetime | None = None,
                 approval_days: int = 30, report_days: int = 35, backdate_days: int = 90,
                 split_days: int = 14) -> None:
        self.now = now if now is not None else datetime.now(UTC)
        self.today = today if today is not None else day_of(self.now)
        self.approval_days = approval_days
        self.report_days = report_days
        self.backdate_days = backdate_days
        self.split_days = split_days
        self.rules: Rules = rules_from({})  # the policy in force at the current position
        self.policy_values: dict[str, Any] = {}
        self.people = People()
        self.projects: dict[UUID, ProjectTrack] = {}
        self.invoices: dict[tuple[str, str], list[tuple[UUID, str, int]]] = {}
        self.position = 0
        self._found: list[Finding] = []
        self._held: dict[tuple[str, tuple[str, ...], str | None], bool] = {}  # until a grant changes

    # Input ------------------------------------------------------------------------------

    def apply(self, position: int, recorded_at: datetime, event: object) -> None:
        """Take the next event of the log (other than domain events: ignored)."""
        if position <= self.position:
            return
        self.position = position
        if isinstance(event, Project.Event):
            self._project_event(position, recorded_at, event)
        elif isinstance(event, Directory.Event):
            self._directory_event(position, event)
        elif isinstance(event, Policy.Event):
            self._policy_event(position, event)

    def project_code(self, originator_id: UUID) -> str | None:
        track = self.projects.get(originator_id)
        return track.code if track else None

    # Output -----------------------------------------------------------------------------

    def findings(self, *, today: date | None = None) -> list[Finding]:
        """Every finding so far plus those judged as of `today` (default: the evaluator's),
        in a stable order. Only this call looks at the date, so an evaluator kept across
        midnight needs no replay: pass (or assign `.today`) the new date."""
        today = today if today is not None else self.today
        out = list(self._found)
        for track in self.projects.values():
            out.extend(self._split_purchases(track))
            out.extend(self._pending(track, today))
            if track.closed_at is None:
                out.extend(self._reporting(track, today))
                out.extend(self._late_milestones(track, today))
        return sorted(out, key=Finding.sort_key)

    def _add(self, rule_id: str, project: str | None, message: str,
             evidence: tuple[int, ...]) -> None:
        self._found.append(Finding(rule_id, severity(rule_id), project, message, evidence))

    @staticmethod
    def _finding(rule_id: str, project: str | None, message: str,
                 evidence: tuple[int, ...]) -> Finding:
        return Finding(rule_id, severity(rule_id), project, message, evidence)

    # Directory and policy -----------------------------------------------------------------

    def _directory_event(self, pos: int, e: Any) -> None:
        name = type(e).__name__
        if e.actor_id != ROOT_ACTOR_ID:
            self._need(pos, e, ("admin",), None)
        if name == "PersonEnrolled":
            self.people.enrol(e.username, e.name)
        elif name == "RoleGranted":
            self.people.grant(e.username, e.role, e.project, pos)
        elif name == "RoleRevoked":
            self.people.revoke(e.username, e.role, e.project, pos)
        elif name == "PersonDeactivated":
            self.people.deactivate(e.username, pos)
        self._held.clear()

    def _policy_event(self, pos: int, e: Any) -> None:
        name = type(e).__name__
        if e.actor_id != ROOT_ACTOR_ID:
            self._need(pos, e, ("pmo",) if name == "Changed" else ("admin",), None)
        try:
            if name == "Adopted":
                values = dict(e.rules)
            elif name == "Changed":
                values = {**self.policy_values, **dict(e.changes)}
            else:
                return
            rules = rules_from(values)
        except Exception as exc:  # noqa: BLE001 - a malformed policy is a finding
            self._add("HIST-001", None, f"policy event at position {pos} cannot be applied: "
                      f"{exc}", (pos,))
            return
        self.policy_values, self.rules = values, rules

    def _need(self, pos: int, e: Any, roles: tuple[str, ...], t: ProjectTrack | None) -> None:
        """ROLE-001 unless the actor held one of `roles` (for project `t`) at this moment."""
        scoped = t.scope if t is not None else None
        key = (e.actor_id, roles, scoped)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = self.people.holds_any(e.actor_id, roles, scoped)
        if held:
            return
        lost_at, why = self.people.lost(e.actor_id, roles, scoped)
        project = t.code if t is not None else None
        where = f" on {project}" if project else ""
        self._add("ROLE-001", project,
                  f"{e.actor_name} ({e.actor_id}) {describe(e)}{where} without holding the "
                  f"{' or '.join(roles)} role at that moment: {why}", _positions(lost_at, pos))

    # Projects -----------------------------------------------------------------------------

    def _project_event(self, pos: int, at: datetime, e: Any) -> None:
        kind = type(e)
        plan = _PLANS.get(kind)
        if plan is None:
            plan = _PLANS[kind] = _plan(kind)
        name, created, roles, common, handler, money = plan
        if created:
            self._chartered(pos, at, e)
            return
        t = self.projects.get(e.originator_id)
        if t is None:
            self._add("HIST-001", None, f"{describe(e)} at position {pos} is for a project "
                      f"({e.originator_id}) that was never chartered", (pos,))
            return
        if roles is not None:  # the role the act needs; the usual answer remembered
            if type(roles) is not tuple:
                roles = self._roles(e, name)
            if not self._held.get((e.actor_id, roles, t.scope)):
                self._need(pos, e, roles, t)
        if common:  # most acts (risk reassessments...) have nothing `_common` checks
            self._common(t, pos, at, e, name)
        if handler is not None:
            handler(self, t, pos, at, e)
        lines = self._lines_touched(t, e) if money else ()
        try:
            e.apply(t.project)
        except Exception as exc:  # noqa: BLE001 - history that does not fit is a finding
            self._add("HIST-001", t.code, f"{e.actor_name} {describe(e)} on {t.code} at "
                      f"position {pos}, which the project's history cannot apply "
                      f"({type(exc).__name__}: {exc})", (pos,))
            return
        if lines:
            self._check_lines(t, pos, e, lines)

    def _chartered(self, pos: int, at: datetime, e: Any) -> None:
        if e.originator_id in self.projects:
            code = self.projects[e.originator_id].code
            self._add("HIST-001", code, f"{code} chartered a second time at position {pos}",
                      (self.projects[e.originator_id].chartered_at, pos))
            return
        try:
            project = e.mutate(None)
        except Exception as exc:  # noqa: BLE001
            self._add("HIST-001", getattr(e, "code", None),
                      f"charter at position {pos} cannot be applied: {exc}", (pos,))
            return
        t = ProjectTrack(code=project.code, project=project, chartered_at=pos, chartered_time=at,
                         scope=scope(project.code))
        self.projects[e.originator_id] = t
        self._need(pos, e, PM, t)

    def _roles(self, e: Any, name: str) -> tuple[str, ...]:
        """The roles of an act whose event records its role, or (a change request's
        rejection) whose policy names it."""
        if name in ROLE_RECORDED:
            return (e.role,)
        return (self.rules.change_approver_role,)

    def _common(self, t: ProjectTrack, pos: int, at: datetime, e: Any, name: str) -> None:
        code = t.code
        if name in APPROVING:
            grant = self.people.holds(e.actor_id, "admin", None)
            if grant is not None:
                self._add("SOD-003", code, f"{e.actor_name} ({e.actor_id}) {describe(e)} on "
                          f"{code} while an administrator: administrators approve nothing",
                          _positions(grant, pos))
        field = BUSINESS_DATE.get(name)
        if field is not None:
            business = getattr(e, field)
            days = (day_of(at) - business).days
            if days > self.backdate_days:
                self._add("TIME-001", code, f"{e.actor_name} {describe(e)} on {code} on "
                          f"{day_of(at)} with {field.replace('_', ' ')} {business}, "
                          f"{days} days earlier (more than {self.backdate_days})", (pos,))
        if t.closed_at is not None and name in FINANCIAL:
            self._after_closure(t, t.closed_at, pos, e)
        if t.g1_passed is not None and name in BASELINE:
            if not (name == "DeliverableAdded" and e.change_request):
                self._add("BUD-003", code, f"{e.actor_name} {describe(e)} on {code} after G1 "
                          "(planning) passed, without a change request", (t.g1_passed, pos))

    def _after_closure(self, t: ProjectTrack, closed_at: int, pos: int, e: Any) -> None:
        self._add("CLS-001", t.code, f"{e.actor_name} {describe(e)} on {t.code} after the "
                  "project was closed", (closed_at, pos))

    @staticmethod
    def _lines_touched(t: ProjectTrack, e: Any) -> tuple[str, ...]:
        """The budget lines whose available balance the event may move (before applying)."""
        p, name = t.project, type(e).__name__
        if name.startswith("Expenditure"):
            item = p.expenditures.get(e.expenditure_id)
            po = p.commitments.get(item["po_number"] or "") if item is not None else None
            return tuple({x["line"] for x in (item, po) if x is not None})
        if name.startswith("Commitment"):
            item = p.commitments.get(e.po_number)
            return (item["line"],) if item is not None else ()
        if name.startswith("BudgetTransfer"):
            item = p.transfers.get(e.transfer_id)
            return (item["from_line"], item["to_line"]) if item is not None else ()
        if name.startswith("BudgetLine"):
            return (e.line,)
        if name == "ChangeRequestApproved":
            cr = p.change_requests.get(e.cr_id)
            return tuple(i["line"] for i in cr["cost_impacts"]) if cr is not None else ()
        return ()

    def _check_lines(self, t: ProjectTrack, pos: int, e: Any, lines: tuple[str, ...]) -> None:
        """BUD-001 when a line's available balance goes below zero (once per episode)."""
        p = t.project
        for line in lines:
            s = p.lines.get(line)
            if s is None:
                t.overdrawn.discard(line)
                continue
            available = s["budget"] - s["spent"] - s["committed"]
            if available < ZERO and line not in t.overdrawn:
                t.overdrawn.add(line)
                self._add("BUD-001", t.code, f"line {line} ({s['name']}) of {t.code} overdrawn "
                          f"by {fmt(-available)} {p.currency} when {e.actor_name} {describe(e)}: "
                          f"budget {fmt(s['budget'])}, spent {fmt(s['spent'])}, committed "
                          f"{fmt(s['committed'])}", (pos,))
            elif available >= ZERO:
                t.overdrawn.discard(line)

    # Submissions, approvals and decisions ------------------------------------------------------

    def _submitted(self, t: ProjectTrack, pos: int, at: datetime, e: Any, kind: str,
                   key: str) -> None:
        t.items[(kind, key)] = Item(kind, key, pos, at, e.actor_id)

    def _self_decision(self, t: ProjectTrack, pos: int, e: Any, kind: str, key: str) -> Item | None:
        item = t.items.get((kind, key))
        if item is not None and item.actor == e.actor_id:
            self._add("SOD-001", t.code, f"{e.actor_name} ({e.actor_id}) {describe(e)} on "
                      f"{t.code}, which they submitted themselves", (item.position, pos))
        return item

    def _late(self, t: ProjectTrack, pos: int, at: datetime, e: Any, item_pos: int | None,
              since: datetime | None) -> None:
        if since is None:
            return
        days = (day_of(at) - day_of(since)).days
        if days > self.approval_days:
            self._add("APR-003", t.code, f"{e.actor_name} {describe(e)} on {t.code} {days} days "
                      f"after it was submitted (more than {self.approval_days})",
                      _positions(item_pos, pos))

    def _label(self, t: ProjectTrack, kind: str, key: str, state: dict[str, Any]) -> str:
        amount = f"{fmt(state['amount'])} {t.project.currency}"
        if kind == "transfer":
            return f"budget transfer {key} ({amount} from {state['from_line']} to {state['to_line']})"
        if kind == "expenditure":
            return (f"expenditure {key} ({amount}, {state['vendor']} invoice "
                    f"{state['invoice_number']}, line {state['line']})")
        return f"purchase order {key} ({amount}, {state['vendor']}, line {state['line']})"

    def _approval(self, t: ProjectTrack, pos: int, at: datetime, e: Any, kind: str, key: str,
                  state: dict[str, Any] | None) -> Item | None:
        """Checks shared by the approvals of expenditures, purchase orders and transfers."""
        item = self._self_decision(t, pos, e, kind, key)
        if item is None or state is None:
            return None
        rules, code = self.rules, t.code

        def label() -> str:
            return self._label(t, kind, key, state)

        earlier = [a for a in item.approvals if a.actor == e.actor_id]
        if earlier:
            self._add("SOD-002", code, f"{e.actor_name} ({e.actor_id}) approved {label()} on "
                      f"{code} twice", (earlier[0].position, pos))
        amount = state["amount"]
        if e.role == "sponsor" and not rules.sponsor_needed(amount):
            self._add("APR-002", code, f"{e.actor_name} approved {label()} on {code} as sponsor; "
                      f"the policy then gave the sponsor approval authority only over "
                      f"{fmt(rules.sponsor_threshold)}", (pos,))
        elif e.role not in ("fiscal", "sponsor"):
            self._add("APR-002", code, f"{e.actor_name} approved {label()} on {code} as "
                      f"{e.role}, a role the policy gives no authority to approve it", (pos,))
        self._late(t, pos, at, e, item.position, item.at)
        held = self.people.holds(e.actor_id, e.role, t.scope) is not None
        item.approvals.append(Approval(pos, e.actor_id, e.actor_name, e.role, held))
        if e.completes_approval:
            self._thresholds(t, pos, item, label, amount)
            drawn = state["from_line"] if kind == "transfer" else state["line"]
            self._contingency(t, pos, e, item.position, drawn, label)
        return item

    def _thresholds(self, t: ProjectTrack, pos: int, item: Item, label: Callable[[], str],
                    amount: Decimal) -> None:
        """APR-001: the approvals that completed it are fewer than the policy then required."""
        rules = self.rules
        fiscal = {a.actor for a in item.approvals if a.role == "fiscal" and a.held}
        sponsor = [a for a in item.approvals if a.role == "sponsor" and a.held]
        needed = rules.fiscal_approvals_needed(amount)
        wanted = []
        if len(fiscal) < needed:
            wanted.append(f"two different fiscal officers (over {fmt(rules.dual_fiscal_threshold)})"
                          if needed > 1 else "a fiscal officer")
        if rules.sponsor_needed(amount) and not sponsor:
            wanted.append(f"the sponsor (over {fmt(rules.sponsor_threshold)})")
        if wanted:
            given = ", ".join(f"{a.actor_name} as {a.role}" + ("" if a.held else " (role not held)")
                              for a in item.approvals)
            self._add("APR-001", t.code, f"{label()} on {t.code} was approved by {given}; the "
                      f"policy then required {' and '.join(wanted)}",
                      _positions(item.position, *(a.position for a in item.approvals)))

    def _contingency(self, t: ProjectTrack, pos: int, e: Any, item_pos: int, line: str,
                     label: Callable[[], str]) -> None:
        """BUD-002: money drawn from a contingency line no approved change request named."""
        state = t.project.lines.get(line)
        if state is None or state["category"] != "contingency" or line in t.cr_lines:
            return
        self._add("BUD-002", t.code, f"{label()} on {t.code} draws on contingency line {line} "
                  f"({state['name']}), approved by {e.actor_name}, and no approved change "
                  "request released that contingency", (item_pos, pos))

    def _on_ExpenditureSubmitted(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._submitted(t, pos, at, e, "expenditure", e.expenditure_id)
        code, rules, p = t.code, self.rules, t.project

        def label() -> str:
            return (f"expenditure {e.expenditure_id} ({fmt(e.amount)} {p.currency}, {e.vendor} "
                    f"invoice {e.invoice_number}, line {e.line})")

        key = (e.vendor.strip().casefold(), e.invoice_number.strip().casefold())
        for oid, other_id, first in self.invoices.get(key, []):
            other = self.projects[oid]
            state = other.project.expenditures.get(other_id)
            if state is not None and state["status"] != "rejected":
                self._add("INV-001", code, f"invoice {e.invoice_number} of {e.vendor} is "
                          f"recorded twice: as {other_id} on {other.code} and again as {label()} "
                          f"on {code} by {e.actor_name}", (first, pos))
                break
        self.invoices.setdefault(key, []).append((e.originator_id, e.expenditure_id, pos))
        start, finish = p.charter["start_date"], p.charter["target_finish"]
        if not start <= e.invoice_date <= finish:
            self._add("INV-002", code, f"{label()} on {code} is dated {e.invoice_date}, outside "
                      f"the project's life ({start} to {finish})", (pos,))
        if e.amount > rules.dual_fiscal_threshold and not e.document_sha256:
            self._add("INV-003", code, f"{label()} on {code}, submitted by {e.actor_name}, is over "
                      f"{fmt(rules.dual_fiscal_threshold)} and has no invoice document (SHA-256)",
                      (pos,))
        if e.po_number:
            approved = t.po_approved.get(e.po_number)
            if approved is None:
                t.waiting_for_po.setdefault(e.po_number, []).append((e.expenditure_id, pos))
            else:
                self._after_the_fact(t, e.po_number, approved, e.expenditure_id, pos,
                                     e.invoice_date)
        else:
            t.purchases.append(Purchase("expenditure", e.expenditure_id, e.vendor, e.invoice_date,
                                        e.amount, pos, rules.dual_fiscal_threshold))

    def _after_the_fact(self, t: ProjectTrack, po: str, approved: tuple[int, date], exp_id: str,
                        exp_pos: int, invoice_date: date) -> None:
        if invoice_date < approved[1]:
            self._add("PUR-003", t.code, f"expenditure {exp_id} on {t.code} cites purchase order "
                      f"{po}, approved on {approved[1]}, but its invoice is dated {invoice_date}: "
                      "the PO was raised after the fact", _positions(approved[0], exp_pos))

    def _on_ExpenditureApproved(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        state = t.project.expenditures.get(e.expenditure_id)
        item = self._approval(t, pos, at, e, "expenditure", e.expenditure_id, state)
        if item is None or state is None or not e.completes_approval:
            return
        t.figures_changed_at = pos
        if state["po_number"]:
            po = state["po_number"]
            c = t.project.commitments.get(po)
            left = c["remaining"] if c is not None and c["status"] == "open" else ZERO
            if state["amount"] > left:
                po_item = t.items.get(("commitment", po))
                self._add("PUR-002", t.code, f"{self._label(t, 'expenditure', e.expenditure_id, state)} "
                          f"on {t.code} exceeds what purchase order {po} had left "
                          f"({fmt(left)}) by {fmt(state['amount'] - left)}",
                          _positions(po_item.position if po_item else None, item.position, pos))

    def _on_ExpenditureRejected(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._self_decision(t, pos, e, "expenditure", e.expenditure_id)

    def _on_ExpenditureReversed(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._self_decision(t, pos, e, "expenditure", e.expenditure_id)
        t.figures_changed_at = pos

    def _on_CommitmentSubmitted(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._submitted(t, pos, at, e, "commitment", e.po_number)
        t.purchases.append(Purchase("commitment", e.po_number, e.vendor, day_of(at), e.amount,
                                    pos, self.rules.dual_fiscal_threshold))

    def _on_CommitmentApproved(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        state = t.project.commitments.get(e.po_number)
        item = self._approval(t, pos, at, e, "commitment", e.po_number, state)
        if item is None or not e.completes_approval or e.po_number in t.po_approved:
            return
        approved = (pos, day_of(at))
        t.po_approved[e.po_number] = approved
        for exp_id, exp_pos in t.waiting_for_po.pop(e.po_number, []):
            exp = t.project.expenditures.get(exp_id)
            if exp is not None:
                self._after_the_fact(t, e.po_number, approved, exp_id, exp_pos, exp["invoice_date"])

    def _on_CommitmentRejected(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._self_decision(t, pos, e, "commitment", e.po_number)

    def _on_BudgetTransferRequested(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._submitted(t, pos, at, e, "transfer", e.transfer_id)

    def _on_BudgetTransferApproved(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        state = t.project.transfers.get(e.transfer_id)
        self._approval(t, pos, at, e, "transfer", e.transfer_id, state)

    def _on_BudgetTransferRejected(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._self_decision(t, pos, e, "transfer", e.transfer_id)

    def _on_ChangeRequestSubmitted(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._submitted(t, pos, at, e, "cr", e.cr_id)

    def _on_ChangeRequestApproved(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        item = self._self_decision(t, pos, e, "cr", e.cr_id)
        cr = t.project.change_requests.get(e.cr_id)
        if e.role != self.rules.change_approver_role:
            self._add("APR-002", t.code, f"{e.actor_name} approved change request {e.cr_id} on "
                      f"{t.code} as {e.role}; the policy then gave that authority to the "
                      f"{self.rules.change_approver_role} role", (pos,))
        if item is not None:
            self._late(t, pos, at, e, item.position, item.at)
        if cr is None:
            return
        if cr["cost_impacts"] and t.closed_at is not None:
            self._after_closure(t, t.closed_at, pos, e)
        for impact in cr["cost_impacts"]:
            t.cr_lines.setdefault(impact["line"], pos)
        for impact in cr["schedule_impacts"]:
            t.figures_changed_at = pos
            if "planned_finish" in impact:
                t.finish_set_at[impact["milestone"]] = pos

    def _on_ChangeRequestRejected(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        self._self_decision(t, pos, e, "cr", e.cr_id)

    # Gates ---------------------------------------------------------------------------------------

    def _on_GateReviewRequested(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        t.rounds[(e.gate, e.round)] = Round(e.gate, e.round, pos, at, e.actor_id,
                                            tuple(self.rules.gate_roles(e.gate)))

    def _round(self, t: ProjectTrack, gate: str, number: int) -> Round:
        key = (gate, number)
        if key not in t.rounds:  # sign-offs with no review request on record
            t.rounds[key] = Round(gate, number, None, None, None,
                                  tuple(self.rules.gate_roles(gate)))
        return t.rounds[key]

    def _on_GateSignedOff(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        rnd, code = self._round(t, e.gate, e.round), t.code
        if rnd.requester == e.actor_id:
            self._add("SOD-001", code, f"{e.actor_name} ({e.actor_id}) {describe(e)} on {code}, "
                      "a review they requested themselves", _positions(rnd.position, pos))
        earlier = [s for s in rnd.signoffs if s.actor == e.actor_id]
        if earlier:
            self._add("SOD-002", code, f"{e.actor_name} ({e.actor_id}) signed off {e.gate} on "
                      f"{code} twice in the same review (as {earlier[0].role} and as {e.role})",
                      (earlier[0].position, pos))
        if e.role not in rnd.required:
            self._add("APR-002", code, f"{e.actor_name} signed off {e.gate} on {code} as "
                      f"{e.role}; the policy required only {', '.join(rnd.required)} for "
                      f"{e.gate}", _positions(rnd.position, pos))
        if e.decision != "rejected":
            self._late(t, pos, at, e, rnd.position, rnd.at)
        held = self.people.holds(e.actor_id, e.role, t.scope) is not None
        rnd.signoffs.append(Signoff(pos, e.actor_id, e.actor_name, e.role, e.decision, held))

    def _on_GatePassed(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        rnd, code = self._round(t, e.gate, e.round), t.code
        filled: dict[str, Signoff] = {}
        used: set[str] = set()
        for s in rnd.signoffs:
            valid = s.decision != "rejected" and s.held and s.actor != rnd.requester
            if valid and s.actor not in used and s.role not in filled:
                filled[s.role] = s
                used.add(s.actor)
        missing = [r for r in rnd.required if r not in filled]
        if missing:
            given = ", ".join(f"{s.role} {s.actor_name}" for s in filled.values()) or "nobody"
            self._add("GATE-001", code, f"{e.gate} of {code} passed without the required "
                      f"{', '.join(missing)} sign-off (valid sign-offs: {given})",
                      _positions(rnd.position, *(s.position for s in rnd.signoffs), pos))
        index = GATES.index(e.gate) if e.gate in GATES else 0
        if index:
            previous = t.passed.get(GATES[index - 1])
            if previous is not None and previous[1]:
                self._add("GATE-002", code, f"{e.gate} of {code} passed while the conditions of "
                          f"{GATES[index - 1]} were still open: {'; '.join(previous[1])}",
                          (previous[0], pos))
        t.passed.setdefault(e.gate, (pos, list(e.conditions)))
        if e.gate == "G1" and t.g1_passed is None:
            t.g1_passed = pos

    def _on_GateConditionsMet(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        # Conditions recorded as met are no longer open when the next gate passes (GATE-002).
        passed = t.passed.get(e.gate)
        if passed is not None:
            met = set(e.conditions)
            t.passed[e.gate] = (passed[0], [c for c in passed[1] if c not in met])

    def _on_Closed(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        if t.closed_at is None:
            t.closed_at, t.closed_time = pos, at

    # Schedule, progress, reports -------------------------------------------------------------------

    def _on_MilestoneAdded(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        t.finish_set_at[e.milestone] = pos
        t.figures_changed_at = pos

    def _on_MilestoneRevised(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        if "planned_finish" in e.changes:
            t.finish_set_at[e.milestone] = pos
        t.figures_changed_at = pos

    def _on_MilestoneRemoved(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        t.figures_changed_at = pos

    def _on_ProgressReported(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        m = t.project.milestones.get(e.milestone)
        if m is not None and (m["percent_as_of"] is None or e.as_of >= m["percent_as_of"]):
            t.percent_set_at[e.milestone] = pos
        t.progress_at[e.milestone] = pos
        t.figures_changed_at = pos

    def _on_MilestoneAccepted(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        m = t.project.milestones.get(e.milestone)
        if m is not None and m["percent_by"] == e.actor_id:
            self._add("SOD-001", t.code, f"{e.actor_name} ({e.actor_id}) accepted milestone "
                      f"{e.milestone} on {t.code}, whose completion they reported themselves",
                      _positions(t.percent_set_at.get(e.milestone), pos))

    def _bands(self, p: Project, t: date, rules: Rules) -> tuple[dict[str, Decimal | None], frozenset[str]]:
        earned = ev(p, t)
        values = {"CPI": ratio(earned, ac(p, t)), "SPI": ratio(earned, pv(p, t))}
        return values, frozenset(k for k, v in values.items() if rules.band(v) == "red")

    def _on_StatusReportPublished(self, t: ProjectTrack, pos: int, at: datetime, e: Any) -> None:
        values, red = self._bands(t.project, e.period_end, self.rules)
        wrong = []
        if "CPI" in red and "green" in (e.overall, e.budget):
            wrong.append(f"CPI {_ratio_text(values['CPI'])}")
        if "SPI" in red and "green" in (e.overall, e.schedule):
            wrong.append(f"SPI {_ratio_text(values['SPI'])}")
        if wrong:
            self._add("RPT-003", t.code, f"{e.actor_name} published {e.report_id} for {t.code} "
                      f"rated overall {e.overall}, budget {e.budget}, schedule {e.schedule}, "
                      f"while {' and '.join(wrong)} as of {e.period_end} is in the red band",
                      (pos,))
        t.last_report = (pos, at, e.report_id, red)

    # Judged as of today ------------------------------------------------------------------------------

    def _split_purchases(self, t: ProjectTrack) -> list[Finding]:
        p, out = t.project, []
        tables = {"expenditure": p.expenditures, "commitment": p.commitments}
        streams: dict[tuple[str, str], list[Purchase]] = {}
        for purchase in t.purchases:
            state = tables[purchase.kind].get(purchase.key)
            if purchase.amount > purchase.limit or state is None or state["status"] == "rejected":
                continue
            key = (purchase.kind, purchase.vendor.strip().casefold())
            streams.setdefault(key, []).append(purchase)
        for (kind, _), items in sorted(streams.items()):
            items.sort(key=lambda x: (x.on, x.position))
            ons, i = [x.on for x in items], 0
            totals = _running_totals([x.amount for x in items])
            while i < len(items):
                # Sorted by date, so the window is a run: found by bisection, not a scan of
                # every later purchase (quadratic in a project's purchases).
                j = bisect_right(ons, _days_after(items[i].on, self.split_days))
                window, limit = items[i:j], items[j - 1].limit
                total = totals[j] - totals[i] if totals else sum((x.amount for x in window), ZERO)
                if len(window) < 2 or total <= limit:
                    i += 1
                    continue
                parts = ", ".join(f"{x.key} {fmt(x.amount)} on {x.on}" for x in window)
                noun = "invoices" if kind == "expenditure" else "purchase orders"
                out.append(self._finding(
                    "PUR-001", t.code, f"{len(window)} {noun} from {window[0].vendor} on {t.code} "
                    f"within {self.split_days} days ({parts}) are each within the single-approver "
                    f"threshold {fmt(limit)} but together {fmt(total)} {p.currency}",
                    _positions(*(x.position for x in window))))
                i += len(window)
        return out

    def _pending(self, t: ProjectTrack, today: date) -> list[Finding]:
        """CR-001 / QUE-001: items still pending for longer than the policy now allows
        (on a closed project: pending at its closure)."""
        limit, out, p = self.rules.pending_days_limit, [], t.project
        end = day_of(t.closed_time) if t.closed_time is not None else today
        tables = {"cr": p.change_requests, "expenditure": p.expenditures,
                  "commitment": p.commitments, "transfer": p.transfers}
        for (kind, key), item in t.items.items():
            state = tables[kind].get(key)
            if state is None or state["status"] != "pending":
                continue
            days = (end - day_of(item.at)).days
            if days <= limit:
                continue
            if kind == "cr":
                rule, what = "CR-001", f"change request {key} ({state['title']})"
            else:
                rule = "QUE-001"
                what = (self._label(t, kind, key, state) if kind != "transfer" else
                        f"budget transfer {key} ({fmt(state['amount'])} {p.currency} from "
                        f"{state['from_line']} to {state['to_line']})")
            out.append(self._finding(
                rule, t.code, f"{what} on {t.code}, submitted {day_of(item.at)}, has been "
                f"pending {days} days (the policy allows {limit})", (item.position,)))
        return out

    def _reporting(self, t: ProjectTrack, today: date) -> list[Finding]:
        out = []
        if t.last_report is not None:
            last_pos, last_at, what = t.last_report[0], t.last_report[1], f"last: {t.last_report[2]}"
        else:
            last_pos, last_at, what = t.chartered_at, t.chartered_time, "none since the charter"
        days = (today - day_of(last_at)).days
        if days > self.report_days:
            out.append(self._finding(
                "RPT-001", t.code, f"{t.code} has had no status report for {days} days "
                f"({what}, {day_of(last_at)}); the limit is {self.report_days}", (last_pos,)))
        values, red = self._bands(t.project, today, self.rules)
        covered = t.last_report[3] if t.last_report is not None else frozenset()
        missing = sorted(red - covered)
        if missing:
            shown = " and ".join(f"{k} {_ratio_text(values[k])}" for k in missing)
            since = f"the last, {t.last_report[2]}, did not show it" if t.last_report else "none at all"
            out.append(self._finding(
                "RPT-002", t.code, f"{t.code} has {shown} as of {today}, in the red band, "
                f"and no status report since ({since})",
                _positions(t.last_report[0] if t.last_report else None, t.figures_changed_at)))
        return out

    def _late_milestones(self, t: ProjectTrack, today: date) -> list[Finding]:
        out = []
        for key, m in sorted(t.project.milestones.items()):
            percent = percent_as_of(m, today)
            if m["planned_finish"] < today and percent < 100:
                out.append(self._finding(
                    "MS-001", t.code, f"milestone {key} ({m['name']}) of {t.code} was planned to "
                    f"finish on {m['planned_finish']} and is {percent}% complete as of "
                    f"{today}", _positions(t.finish_set_at.get(key), t.progress_at.get(key))))
        return out


_HANDLERS = {name[4:]: f for name, f in vars(ComplianceEvaluator).items()
             if name.startswith("_on_")}
# Per project event class: (its name, is it the charter, the roles it needs (None: none; a
# text: worked out per event, see `_roles`), has `_common` anything to check, its handler,
# may it move a line's balance) -- worked out once, not per event.
_Plan = tuple[str, bool, tuple[str, ...] | str | None, bool, Callable[..., None] | None, bool]
_PLANS: dict[type, _Plan] = {}


def _plan(kind: type) -> _Plan:
    name = kind.__name__
    command = WRITERS.get(name)
    roles: tuple[str, ...] | str | None = command.roles if command is not None else PM
    if is_consequence(name):
        roles = None
    elif name in ROLE_RECORDED or (command is not None and command.policy_roles):
        roles = "per event"
    return (name, issubclass(kind, Project.Created), roles, name in _COMMON,
            _HANDLERS.get(name), name in MONEY)


def evaluate(events: Iterable[tuple[int, datetime, object]], **kw: Any) -> list[Finding]:
    """The findings of a whole log: (position, recorded_at, event) in position order."""
    evaluator = ComplianceEvaluator(**kw)
    for position, recorded_at, event in events:
        evaluator.apply(position, recorded_at, event)
    return evaluator.findings()


def findings_from_verification(report: Any) -> list[Finding]:
    """Each fault `ledger.verify` reported, as a finding `LEDGER-<kind>` at its position."""
    out = []
    for f in report.faults:
        where = f"position {f.position}" if f.position is not None else "the log as a whole"
        about = f" (originator {f.originator_id}, version {f.version})" if f.originator_id else ""
        out.append(Finding(f"{LEDGER_PREFIX}{f.kind}", severity(LEDGER_PREFIX), None,
                           f"ledger verification: {f.kind} at {where}{about}: {f.detail}",
                           (f.position,) if f.position is not None else ()))
    return sorted(out, key=Finding.sort_key)
