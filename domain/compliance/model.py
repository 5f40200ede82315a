"""What a compliance finding is, and the catalogue of rules that produce them.

A finding names the rule (a stable id such as `SOD-001`), its severity, the project it is
about (None for ledger-wide findings: people, policy, the log itself), a message written for
an auditor (who, what, how much, which line) and the chain positions of the events that are
its evidence, in ascending order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str  # "high" | "medium" | "low"
    project: str | None
    message: str
    evidence: tuple[int, ...]  # ledger chain positions

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "severity": self.severity, "project": self.project,
                "message": self.message, "evidence": list(self.evidence)}

    def sort_key(self) -> tuple[Any, ...]:
        return (self.evidence[0] if self.evidence else 0, self.rule_id, self.project or "",
                self.evidence, self.message)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: str
    title: str


_RULES = [
    # Segregation of duties
    Rule("SOD-001", HIGH, "self-approval: a person approved, rejected, reversed, signed off or "
                          "accepted what they submitted themselves"),
    Rule("SOD-002", HIGH, "two approvals (or gate sign-offs) of one item by the same person"),
    Rule("SOD-003", HIGH, "an administrator approved, rejected or signed off something"),
    Rule("ROLE-001", HIGH, "acted without holding the required role at that moment "
                           "(never granted, revoked, or person deactivated)"),
    # Approvals and authority
    Rule("APR-001", HIGH, "over a threshold without the approvals the policy then required"),
    Rule("APR-002", HIGH, "an approver acted beyond the authority the policy then gave their role"),
    Rule("APR-003", LOW, "approval more than 30 days after submission"),
    # Budget
    Rule("BUD-001", HIGH, "a budget line overdrawn (available below zero)"),
    Rule("BUD-002", MEDIUM, "contingency spent or moved without an approved change request"),
    Rule("BUD-003", HIGH, "baseline changed after G1 without a change request"),
    # Purchasing and invoices
    Rule("PUR-001", MEDIUM, "split purchase: same vendor, within 14 days, each under the "
                            "approval threshold, together over it"),
    Rule("PUR-002", MEDIUM, "expenditure exceeding what its purchase order had left"),
    Rule("PUR-003", MEDIUM, "after-the-fact PO: invoice dated before its PO was approved"),
    Rule("INV-001", HIGH, "the same vendor invoice recorded twice"),
    Rule("INV-002", MEDIUM, "invoice dated outside the project's life (charter start to "
                            "target finish)"),
    Rule("INV-003", MEDIUM, "over-threshold expenditure without its invoice document (SHA-256)"),
    # Gates and change control
    Rule("GATE-001", HIGH, "gate passed without every required signer"),
    Rule("GATE-002", MEDIUM, "conditions of a conditional gate still open when the next gate "
                             "passed"),
    Rule("CR-001", LOW, "change request pending longer than the policy's pending_days_limit"),
    Rule("QUE-001", LOW, "expenditure, purchase order or budget transfer awaiting a decision "
                         "longer than the policy's pending_days_limit"),
    Rule("CLS-001", HIGH, "financial activity after the project closed (other than a reversal)"),
    # Reporting and schedule
    Rule("RPT-001", LOW, "no status report for over 35 days on an active project"),
    Rule("RPT-002", MEDIUM, "CPI or SPI in the red band with no status report since"),
    Rule("RPT-003", MEDIUM, "status report rated green while the computed CPI/SPI band was red"),
    Rule("MS-001", LOW, "milestone past its planned finish and not complete"),
    Rule("TIME-001", MEDIUM, "back-dated act: business date more than 90 days before it was "
                             "recorded"),
    # The log itself
    Rule("HIST-001", HIGH, "an event the project's own history cannot apply (it refers to "
                           "something that does not exist)"),
]
RULES: dict[str, Rule] = {r.rule_id: r for r in _RULES}
LEDGER_PREFIX = "LEDGER-"  # + the verification fault kind, e.g. LEDGER-bad-signature


def severity(rule_id: str) -> str:
    if rule_id.startswith(LEDGER_PREFIX):
        return HIGH
    return RULES[rule_id].severity
