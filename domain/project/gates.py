"""Gate reviews: requests, sign-offs by the roles the gate needs, conditions met, and passing."""

from __future__ import annotations

from typing import Any

from domain import common as meaning  # what a signature means: meaning.APPROVAL, ...
from domain import validate as v
from domain.common import Who, reason_text, text
from domain.errors import (
    InvalidStateError,
    NotAuthorisedError,
    SegregationOfDutiesError,
    ValidationError,
)
from domain.policy import GATE_NAMES, GATES
from domain.project.values import (
    DECISIONS,
    _artifacts,
    _check_unique,
)


class GateCommands:
    """Commands of the project aggregate (domain.project.Project)."""

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
                           required_roles=sorted(required), **by.signed(meaning.AUTHORSHIP))

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
                           **by.signed(meaning.REVIEW if decision == "rejected" else meaning.APPROVAL))
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
                           conditions=wanted, reason=reason_text(reason), **by.signed(meaning.APPROVAL))

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
                           conditions=conditions, **by.signed(meaning.APPROVAL))
        if gate == GATES[-1]:
            self.trigger_event(self.Closed, reason=f"{gate} ({GATE_NAMES[gate]}) passed",
                               **by.signed(meaning.RESPONSIBILITY))
