"""The charter and the baseline: charter amendments, deliverables, budget lines and milestones (editable until G1 passes; after it, by change request only)."""

from __future__ import annotations

from typing import Any

from domain import validate as v
from domain.common import (
    AUTHORSHIP,
    Who,
    reason_text,
    text,
)
from domain.errors import (
    DuplicateError,
    InvalidStateError,
    ValidationError,
)
from domain.money import non_negative
from domain.project.values import (
    CATEGORIES,
    CHARTER_FIELDS,
    _charter_value,
    _check_charter_dates,
    _copy,
    _milestone_changes,
)


class BaselineCommands:
    """Commands of the project aggregate (domain.project.Project)."""

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
