"""Progress, milestone acceptance, risks, issues and status reports."""

from __future__ import annotations

from typing import Any

from domain import validate as v
from domain.common import (
    APPROVAL,
    AUTHORSHIP,
    Who,
    reason_text,
    text,
)
from domain.earned_value import figures
from domain.errors import (
    InvalidStateError,
    ValidationError,
)
from domain.project.values import (
    RAG,
    RISK_STATUSES,
    SEVERITIES,
    _risk_changes,
)


class RecordCommands:
    """Commands of the project aggregate (domain.project.Project)."""

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
