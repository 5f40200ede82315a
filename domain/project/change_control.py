"""Change requests: submitted with their cost and schedule impact, approved (and applied to the baseline), rejected or withdrawn."""

from __future__ import annotations

from typing import Any

from domain import validate as v
from domain.common import (
    APPROVAL,
    AUTHORSHIP,
    REVIEW,
    Who,
    reason_text,
    text,
)
from domain.errors import (
    DuplicateError,
    NotFoundError,
    ValidationError,
)
from domain.money import ZERO, money
from domain.project.values import (
    CATEGORIES,
    _check_unique,
    _copy,
    _milestone_changes,
    _new_line,
)


class ChangeControl:
    """Commands of the project aggregate (domain.project.Project)."""

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
