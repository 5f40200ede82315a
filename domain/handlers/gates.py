"""Gate reviews, sign-offs and conditions; progress and milestone acceptance.

A gate passes on the last sign-off its review requires (the roles the policy required
when the review was requested); G4 passing closes the project."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from domain.handlers.base import Actor, Done, Handler, UnitOfWork


class GatesHandler(Handler):
    """Gate, progress and acceptance commands."""

    def request_gate_review(self, actor: Actor, code: str, gate: str, *,
                            artifacts: Sequence[dict[str, str]], note: str = "",
                            unit: UnitOfWork | None = None) -> Done:
        """Ask for review of gate G0..G4 (PM); artifacts are {"name", "sha256"?, "uri"?}.
        The sign-off roles the policy requires now are fixed for this review round.
        G4 (closeout) is refused (`OpenItemsError`, code open-items) while a purchase
        order is open or anything awaits a decision; so is the sign-off that would pass it."""
        return self.on_project("request_gate_review", actor, code, lambda p, by, rules: p.request_gate_review(
            gate=gate, artifacts=list(artifacts), note=note, required=rules.gate_roles(gate), by=by), unit)

    def record_gate_conditions_met(self, actor: Actor, code: str, gate: str, *,
                                   conditions: Sequence[str], reason: str,
                                   unit: UnitOfWork | None = None) -> Done:
        """Record that conditions a gate passed with are met (PMO lead or sponsor, never the
        PM who requested the review), saying how in `reason`. Each condition is named
        exactly as it was set; one not set on that gate, or already met, is refused.
        Allowed after closeout (the conditions of G4 can only be met then)."""
        return self.on_project("record_gate_conditions_met", actor, code, lambda p, by, _: p.record_gate_conditions_met(
            gate=gate, conditions=list(conditions), by=by, reason=reason), unit)

    def sign_off_gate(self, actor: Actor, code: str, gate: str, *, decision: str,
                      conditions: str = "", reason: str = "", as_role: str | None = None,
                      unit: UnitOfWork | None = None) -> Done:
        """Sign off a gate under review in one of the roles the policy required for it
        when the review was requested. decision: "approved", "approved-with-conditions"
        (conditions required) or "rejected" (reason required). The gate passes on the last
        required approval; G4 passing closes the project."""
        return self.on_project("sign_off_gate", actor, code, lambda p, by, _: p.sign_off_gate(
            gate=gate, decision=decision, conditions=conditions, reason=reason,
            as_role=as_role, by=by), unit)

    def report_progress(self, actor: Actor, code: str, milestone: str, *, percent: int,
                        as_of: date, note: str = "", unit: UnitOfWork | None = None) -> Done:
        """Percent complete (0..100) of a milestone as of a business date (PM)."""
        return self.on_project("report_progress", actor, code, lambda p, by, _: p.report_progress(
            milestone=milestone, percent=percent, as_of=as_of, note=note, by=by), unit)

    def accept_milestone(self, actor: Actor, code: str, milestone: str, *, accepted_on: date,
                         reason: str = "", unit: UnitOfWork | None = None) -> Done:
        """UAT sign-off of a milestone reported 100% complete (sponsor)."""
        return self.on_project("accept_milestone", actor, code, lambda p, by, _: p.accept_milestone(
            milestone=milestone, accepted_on=accepted_on, by=by, reason=reason), unit)
