"""Compliance findings over the whole history of the ledger.

`ComplianceEvaluator` takes every event in log order (`apply(position, recorded_at, event)`)
and reports `findings()`: rule id, severity, project, message and the chain positions that
are the evidence. `RULES` is the catalogue of rule ids; `evaluate` runs a whole log at once;
`findings_from_verification` turns ledger verification faults into `LEDGER-<kind>` findings.
"""

from domain.compliance.evaluator import (
    ComplianceEvaluator,
    evaluate,
    findings_from_verification,
)
from domain.compliance.model import RULES, Finding, Rule

__all__ = ["RULES", "ComplianceEvaluator", "Finding", "Rule", "evaluate",
           "findings_from_verification"]
