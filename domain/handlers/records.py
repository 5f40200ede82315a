"""Risks, issues and status reports: the project manager's running records."""

from __future__ import annotations

from datetime import date

from domain.handlers.base import Actor, Done, Handler, UnitOfWork


class RecordsHandler(Handler):
    """Risk, issue and status-report commands."""

    def raise_risk(self, actor: Actor, code: str, *, title: str, probability: int, impact: int,
                   owner: str, mitigation: str, description: str = "",
                   unit: UnitOfWork | None = None) -> Done:
        """Record a risk (probability and impact 1..5); returns its id (R-001...)."""
        return self.on_project("raise_risk", actor, code, lambda p, by, _: p.raise_risk(
            title=title, probability=probability, impact=impact, owner=owner,
            mitigation=mitigation, description=description, by=by), unit)

    def update_risk(self, actor: Actor, code: str, risk_id: str, *, reason: str,
                    probability: int | None = None, impact: int | None = None,
                    owner: str | None = None, mitigation: str | None = None,
                    status: str | None = None, unit: UnitOfWork | None = None) -> Done:
        """Reassess a risk; status: open, mitigating, occurred (closing uses close_risk)."""
        return self.on_project("update_risk", actor, code, lambda p, by, _: p.update_risk(
            risk_id=risk_id, probability=probability, impact=impact, owner=owner,
            mitigation=mitigation, status=status, by=by, reason=reason), unit)

    def close_risk(self, actor: Actor, code: str, risk_id: str, *, reason: str,
                   unit: UnitOfWork | None = None) -> Done:
        """Close a risk that no longer applies."""
        return self.on_project("close_risk", actor, code, lambda p, by, _: p.close_risk(
            risk_id=risk_id, by=by, reason=reason), unit)

    def raise_issue(self, actor: Actor, code: str, *, title: str, description: str,
                    severity: str, owner: str, unit: UnitOfWork | None = None) -> Done:
        """Record an issue (severity low/medium/high/critical); returns its id (I-001...)."""
        return self.on_project("raise_issue", actor, code, lambda p, by, _: p.raise_issue(
            title=title, description=description, severity=severity, owner=owner, by=by), unit)

    def escalate_issue(self, actor: Actor, code: str, issue_id: str, *, to: str, reason: str,
                       unit: UnitOfWork | None = None) -> Done:
        """Escalate an open issue to a person or body (e.g. "sponsor", "change board")."""
        return self.on_project("escalate_issue", actor, code, lambda p, by, _: p.escalate_issue(
            issue_id=issue_id, to=to, by=by, reason=reason), unit)

    def resolve_issue(self, actor: Actor, code: str, issue_id: str, *, resolution: str,
                      unit: UnitOfWork | None = None) -> Done:
        """Resolve an issue, saying how."""
        return self.on_project("resolve_issue", actor, code, lambda p, by, _: p.resolve_issue(
            issue_id=issue_id, resolution=resolution, by=by), unit)

    def publish_status_report(
        self, actor: Actor, code: str, *, period_start: date, period_end: date, overall: str,
        schedule: str, budget: str, scope: str, summary: str, unit: UnitOfWork | None = None,
    ) -> Done:
        """Publish a status report (RAG: green/amber/red); the budget and earned-value
        figures as of period_end are computed now and stored with it. Returns SR-001..."""
        return self.on_project("publish_status_report", actor, code, lambda p, by, _: p.publish_status_report(
            period_start=period_start, period_end=period_end, overall=overall,
            schedule=schedule, budget=budget, scope=scope, summary=summary, by=by), unit)
