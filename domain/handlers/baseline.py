"""Charter, baseline (deliverables, budget lines, milestones) and change requests.

Before G1 passes the PM edits the baseline freely; after, it changes only through an
approved change request (the project's `check_baseline_editable`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain.commands import COMMANDS
from domain.errors import DuplicateError
from domain.handlers.base import Actor, Done, Handler, UnitOfWork
from domain.project import Project, project_id


class BaselineHandler(Handler):
    """Charter, baseline and change-request commands."""

    def charter_project(
        self, actor: Actor, *, code: str, title: str, sponsor: str, project_manager: str,
        business_relationship_manager: str, objectives: Sequence[str], scope_statement: str,
        start_date: date, target_finish: date, fund: str, cost_centre: str,
        funding_type: str, currency: str = "USD", unit: UnitOfWork | None = None,
    ) -> Done:
        """Charter a new project (PM); `code` such as IT-2026-014 identifies it for ever.
        `funding_type` is "capital" or "operating"; returns the project id."""

        def decide() -> tuple[Any, list[Any]]:
            if unit is not None:
                unit.check_project(code)
                directory, keyring = unit.directory, unit.keyring
            else:
                directory, keyring = self.app.directory(), self.app.keyring()
            self.check_may(actor, COMMANDS["charter_project"], code, None, directory, keyring)
            self.check_new(code, unit)
            project = Project.create(
                code=code, title=title, sponsor=sponsor, project_manager=project_manager,
                business_relationship_manager=business_relationship_manager,
                objectives=objectives, scope_statement=scope_statement,
                start_date=start_date, target_finish=target_finish, fund=fund,
                cost_centre=cost_centre, funding_type=funding_type, currency=currency,
                by=actor.who,
            )
            return project.id, [project]

        return self.run(actor, decide, unit)

    def check_new(self, code: str, unit: UnitOfWork | None) -> None:
        """Refuse a project code already chartered (`DuplicateError`)."""
        exists = unit.current is not None if unit is not None else self.app.has_events(project_id(code))
        if exists:
            raise DuplicateError(f"project {code} already exists", field="code")

    def amend_charter(self, actor: Actor, code: str, changes: dict[str, Any], *, reason: str,
                      unit: UnitOfWork | None = None) -> Done:
        """Amend charter fields (title, sponsor, objectives, target_finish...) with a reason."""
        return self.on_project("amend_charter", actor, code, lambda p, by, _: p.amend_charter(
            changes=changes, by=by, reason=reason), unit)

    def add_deliverable(self, actor: Actor, code: str, *, deliverable: str, name: str,
                        description: str = "", unit: UnitOfWork | None = None) -> Done:
        """Add a deliverable (e.g. D-01) to the baseline."""
        return self.on_project("add_deliverable", actor, code, lambda p, by, _: p.add_deliverable(
            deliverable=deliverable, name=name, description=description, by=by), unit)

    def remove_deliverable(self, actor: Actor, code: str, deliverable: str, *, reason: str,
                           unit: UnitOfWork | None = None) -> Done:
        """Remove a deliverable from the baseline (before G1 passes)."""
        return self.on_project("remove_deliverable", actor, code, lambda p, by, _: p.remove_deliverable(
            deliverable=deliverable, by=by, reason=reason), unit)

    def add_budget_line(self, actor: Actor, code: str, *, line: str, name: str, category: str,
                        amount: Decimal | str, unit: UnitOfWork | None = None) -> Done:
        """Add a budget line (e.g. HW-01). Category: labour, hardware, software,
        vendor services, training or contingency."""
        return self.on_project("add_budget_line", actor, code, lambda p, by, _: p.add_budget_line(
            line=line, name=name, category=category, amount=amount, by=by), unit)

    def revise_budget_line(self, actor: Actor, code: str, line: str, *,
                           amount: Decimal | str | None = None, name: str | None = None,
                           category: str | None = None, reason: str = "baseline edit",
                           unit: UnitOfWork | None = None) -> Done:
        """Change a line's amount, name or category (before G1 passes)."""
        return self.on_project("revise_budget_line", actor, code, lambda p, by, _: p.revise_budget_line(
            line=line, amount=amount, name=name, category=category, by=by, reason=reason), unit)

    def remove_budget_line(self, actor: Actor, code: str, line: str, *, reason: str,
                           unit: UnitOfWork | None = None) -> Done:
        """Remove a line nothing has been committed, spent or transferred against."""
        return self.on_project("remove_budget_line", actor, code, lambda p, by, _: p.remove_budget_line(
            line=line, by=by, reason=reason), unit)

    def add_milestone(self, actor: Actor, code: str, *, milestone: str, name: str,
                      planned_start: date, planned_finish: date,
                      budgeted_value: Decimal | str, unit: UnitOfWork | None = None) -> Done:
        """Add a milestone / work package (e.g. M-01) with its planned dates and value."""
        return self.on_project("add_milestone", actor, code, lambda p, by, _: p.add_milestone(
            milestone=milestone, name=name, planned_start=planned_start,
            planned_finish=planned_finish, budgeted_value=budgeted_value, by=by), unit)

    def revise_milestone(self, actor: Actor, code: str, milestone: str, *, name: str | None = None,
                         planned_start: date | None = None, planned_finish: date | None = None,
                         budgeted_value: Decimal | str | None = None,
                         reason: str = "baseline edit", unit: UnitOfWork | None = None) -> Done:
        """Change a milestone's name, planned dates or budgeted value (before G1 passes)."""
        return self.on_project("revise_milestone", actor, code, lambda p, by, _: p.revise_milestone(
            milestone=milestone, name=name, planned_start=planned_start,
            planned_finish=planned_finish, budgeted_value=budgeted_value, by=by, reason=reason), unit)

    def remove_milestone(self, actor: Actor, code: str, milestone: str, *, reason: str,
                         unit: UnitOfWork | None = None) -> Done:
        """Remove a milestone with no progress reported (before G1 passes)."""
        return self.on_project("remove_milestone", actor, code, lambda p, by, _: p.remove_milestone(
            milestone=milestone, by=by, reason=reason), unit)

    # Change requests ---------------------------------------------------------------------

    def submit_change_request(
        self, actor: Actor, code: str, *, title: str, description: str, justification: str,
        cost_impacts: Sequence[dict[str, Any]] = (),
        schedule_impacts: Sequence[dict[str, Any]] = (),
        scope_impact: str = "", deliverables: Sequence[dict[str, str]] = (),
        unit: UnitOfWork | None = None,
    ) -> Done:
        """Submit a change request; returns its id (CR-001...).
        cost_impacts: [{"line", "amount" (signed delta), "name"?, "category"? (new lines)}];
        schedule_impacts: [{"milestone", "planned_start"?, "planned_finish"?,
        "budgeted_value"?}]; deliverables: new deliverables [{"deliverable", "name"}]."""
        return self.on_project("submit_change_request", actor, code, lambda p, by, _: p.submit_change_request(
            title=title, description=description, justification=justification,
            cost_impacts=list(cost_impacts), schedule_impacts=list(schedule_impacts),
            scope_impact=scope_impact, deliverables=list(deliverables), by=by), unit)

    def approve_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str = "",
                               unit: UnitOfWork | None = None) -> Done:
        """Approve (the change approver role of the policy, default sponsor): applies the
        cost, schedule and scope impacts to the baseline."""
        return self.on_project("approve_change_request", actor, code, lambda p, by, rules: p.approve_change_request(
            cr_id=cr_id, approver_role=rules.change_approver_role, by=by, reason=reason), unit)

    def reject_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str,
                              unit: UnitOfWork | None = None) -> Done:
        """Reject a pending change request, with a reason."""
        return self.on_project("reject_change_request", actor, code, lambda p, by, _: p.reject_change_request(
            cr_id=cr_id, by=by, reason=reason), unit)

    def withdraw_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str,
                                unit: UnitOfWork | None = None) -> Done:
        """Withdraw a pending change request (PM)."""
        return self.on_project("withdraw_change_request", actor, code, lambda p, by, _: p.withdraw_change_request(
            cr_id=cr_id, by=by, reason=reason), unit)

